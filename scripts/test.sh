#!/usr/bin/env bash
# npm test: install (when needed), build (process-level tests start dist/ entry points), typecheck,
# then the whole jest suite (unit, integration, e2e) against real PostgreSQL and Redis, which
# test/setup/global-setup.ts starts unless DATABASE_URL / REDIS_URL are given. Arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."

needs_install() { [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }
if needs_install; then
  # One install at a time in this tree (npm ci empties node_modules first); the lock lives outside it.
  mkdir -p .data
  exec 9>.data/npm-install.lock
  command -v flock >/dev/null 2>&1 && flock 9
  if needs_install; then
    echo "[test] installing dependencies (npm ci)..."
    npm ci --no-audit --no-fund
  fi
  exec 9>&-
fi

echo "[test] building..."
npm run --silent build

echo "[test] typechecking..."
npx tsc --noEmit -p tsconfig.json

echo "[test] running jest..."
exec npx jest "$@"
