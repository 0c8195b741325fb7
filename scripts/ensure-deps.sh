# Sourced by dev.sh and test.sh: `npm ci` when node_modules is missing or older than the lock file
# (npm keeps its own copy of the lock in node_modules/.package-lock.json, rewritten by every
# install), one install at a time in this tree (npm ci empties node_modules first).
ensure_deps() {
  local tag="$1"
  needs_install() { [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }
  if needs_install; then
    mkdir -p .data
    exec 9>.data/npm-install.lock
    command -v flock >/dev/null 2>&1 && flock 9
    if needs_install; then
      echo "[$tag] installing dependencies (npm ci)..."
      npm ci --no-audit --no-fund
      if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
        echo "[$tag] any EBADENGINE warnings above are for development-only packages (kubernetes-models, for test/deploy) that declare Node 22 and work on Node 20: see README.md, \"Two commands\""
      fi
    fi
    exec 9>&-
  fi
}
