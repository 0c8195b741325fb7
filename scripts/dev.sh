#!/usr/bin/env bash
# npm run dev: install (when needed), build, then run the whole platform locally (scripts/dev.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

# npm ci when node_modules is missing or older than the lock file (npm keeps its own copy of the
# lock in node_modules/.package-lock.json, rewritten by every install).
needs_install() { [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }
if needs_install; then
  # One install at a time in this tree (npm ci empties node_modules first); the lock lives outside it.
  mkdir -p .data
  exec 9>.data/npm-install.lock
  command -v flock >/dev/null 2>&1 && flock 9
  if needs_install; then
    echo "[dev] installing dependencies (npm ci)..."
    npm ci --no-audit --no-fund
  fi
  exec 9>&-
fi

echo "[dev] building..."
npm run --silent build

exec node dist/scripts/dev.js "$@"
