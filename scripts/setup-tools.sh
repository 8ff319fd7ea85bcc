#!/usr/bin/env bash
# Installs what the tests need beside the Rust toolchain, from the project's own files:
# npm packages into tools/node_modules (tools/package.json, locked), Python packages into
# .venv (tools/requirements.txt, pinned), Debian's redis-server and nginx. Safe to run again: it does nothing when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -s tools/package.json ] && grep -q '"dependencies"' tools/package.json; then
  stamp=tools/node_modules/.installed-stamp
  if [ ! -f "$stamp" ] || [ tools/package.json -nt "$stamp" ] || [ tools/package-lock.json -nt "$stamp" ]; then
    echo "setup: npm packages (tools/package.json)"
    (cd tools && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
fi

if [ -s tools/requirements.txt ]; then
  stamp=.venv/.installed-stamp
  if [ ! -x .venv/bin/python ]; then
    echo "setup: Python virtual environment (.venv)"
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ tools/requirements.txt -nt "$stamp" ] || [ infra/requirements.txt -nt "$stamp" ] || [ infra/requirements-dev.txt -nt "$stamp" ]; then
    echo "setup: Python packages (tools/requirements.txt)"
    .venv/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
    touch "$stamp"
  fi
fi

# Debian's packages: redis-server (the fleet tests start their own on loopback) and shellcheck
# (scripts/lint-infra.sh).
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: Debian packages (${missing[*]})"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# Debian's nginx: the load-balancer tests start their own, as a child with a config of their own
# in a temporary directory (crates/conformance/tests/nginx). Debian puts it in /usr/sbin, which a
# user's PATH may lack; the tests look there too.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "setup: Debian package nginx"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends nginx >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends nginx >/dev/null
  fi
fi
