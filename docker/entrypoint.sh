#!/bin/sh
# Picks the AIGateway process from the first argument. `exec` keeps node the direct child of tini,
# so SIGTERM reaches it and the graceful shutdown (SHUTDOWN_GRACE_MS) runs.
set -eu

# VAR_FILE=/path sets VAR from that file (Docker secrets, the compose stack's generated JWT key).
for var in JWT_SIGNING_KEYS CHANNEL_ENCRYPTION_KEYS DATABASE_URL DATABASE_ADMIN_URL DATABASE_SYSTEM_URL REDIS_URL SMTP_URL BOOTSTRAP_OWNER_PASSWORD; do
  eval "file=\${${var}_FILE:-}"
  if [ -n "$file" ]; then
    eval "current=\${${var}:-}"
    if [ -n "$current" ]; then
      echo "aigateway: set either $var or ${var}_FILE, not both" >&2
      exit 64
    fi
    value="$(cat "$file")"
    export "$var=$value"
    unset "${var}_FILE"
  fi
done

command="${1:-api}"
if [ "$#" -gt 0 ]; then shift; fi
case "$command" in
  api) exec node /app/dist/src/main.js "$@" ;;
  worker) exec node /app/dist/src/worker.js "$@" ;;
  cli) exec node /app/dist/src/cli.js "$@" ;;
  *) exec "$command" "$@" ;;
esac
