#!/usr/bin/env bash
# The explorer page end to end: Debian's Chromium, driven by playwright-core, against a real
# `trainers serve` (tests/e2e/explorer/explorer.e2e.mjs). Installs what it needs, once: the locked
# npm packages of tests/e2e/explorer (playwright-core only; it never downloads a browser) and
# Debian's chromium package when /usr/bin/chromium is missing.
#
#   TRAINERS_BIN   the server binary (default: target/debug/trainers; build it first: it embeds
#                  crates/api/assets/explorer.html)
#   EXPLORER_SCREENSHOT=docs/explorer.png   also saves a screenshot of a query's result
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]; then
  echo "e2e-explorer: installing Debian's chromium"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi

dir=tests/e2e/explorer
stamp=$dir/node_modules/.installed-stamp
if [ ! -f "$stamp" ] || [ $dir/package.json -nt "$stamp" ] || [ $dir/package-lock.json -nt "$stamp" ]; then
  echo "e2e-explorer: npm ci ($dir/package-lock.json)"
  (cd $dir && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi

export TRAINERS_BIN="${TRAINERS_BIN:-$PWD/target/debug/trainers}"
node --test --test-reporter=tap $dir/explorer.e2e.mjs
