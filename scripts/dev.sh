#!/usr/bin/env bash
# npm run dev: install (when needed), build, then run the whole platform locally (scripts/dev.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/ensure-deps.sh
source scripts/ensure-deps.sh
ensure_deps dev

echo "[dev] building..."
npm run --silent build

exec node dist/scripts/dev.js "$@"
