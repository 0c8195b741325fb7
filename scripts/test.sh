#!/usr/bin/env bash
# npm test: install (when needed), build (process-level tests start dist/ entry points), typecheck,
# then the whole jest suite (unit, integration, e2e) against real PostgreSQL and Redis, which
# test/setup/global-setup.ts starts unless DATABASE_URL / REDIS_URL are given. Arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/ensure-deps.sh
source scripts/ensure-deps.sh
ensure_deps test

echo "[test] building..."
npm run --silent build

echo "[test] typechecking..."
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p web/tsconfig.json

echo "[test] running jest..."
exec npx jest "$@"
