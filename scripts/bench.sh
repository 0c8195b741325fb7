#!/usr/bin/env bash
# npm run bench: install (when needed) and build, then the benchmark (scripts/bench/run.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ensure-deps.sh
source scripts/ensure-deps.sh
ensure_deps bench
echo "[bench] building..."
npm run --silent build
exec node dist/scripts/bench/run.js "$@"
