#!/usr/bin/env bash
# Installs what the end-to-end tests with real AppSync clients need (tests/e2e/amplify, apollo,
# browser), from the project's own files: each folder's npm packages, exactly as locked
# (npm ci), and Debian's chromium and libnss3-tools (certutil) for the browser test. Safe to run
# again: it does nothing when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

for dir in tests/e2e/amplify tests/e2e/apollo tests/e2e/browser; do
  stamp="$dir/node_modules/.installed-stamp"
  if [ ! -f "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "setup: npm packages ($dir/package.json)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
done

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v certutil >/dev/null || missing+=(libnss3-tools)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: Debian packages (${missing[*]})"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine's package lists may be empty or old: update them once if the install fails.
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
