#!/usr/bin/env bash
# Rebuilds the explorer page, crates/api/assets/explorer.html, from explorer/: npm ci (the locked
# GraphiQL, React, graphql-ws and esbuild), then esbuild bundles and minifies it into one HTML
# file with every script, style and font inlined. The file is committed, so building the server
# never needs npm; run this after changing explorer/, then rebuild the server (include_str!).
set -euo pipefail
cd "$(dirname "$0")/../explorer"

stamp=node_modules/.installed-stamp
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "build-explorer: npm ci (explorer/package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
node build.mjs ../crates/api/assets/explorer.html
