#!/usr/bin/env bash
# Lints what is not Rust: the CDK app (ruff: lint and format, settings in infra/pyproject.toml,
# ruff pinned in infra/requirements-dev.txt) and the shell scripts (shellcheck, the Debian
# package). Run scripts/setup-tools.sh first, for .venv/bin/ruff.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/ruff ]; then
  echo "lint-infra: .venv/bin/ruff is missing: run scripts/setup-tools.sh (or make tools)" >&2
  exit 1
fi
if ! command -v shellcheck > /dev/null; then
  echo "lint-infra: shellcheck is missing: apt-get install shellcheck" >&2
  exit 1
fi

.venv/bin/ruff check infra
.venv/bin/ruff format --check infra
shellcheck scripts/*.sh bench/*.sh
echo "lint-infra: ruff $(.venv/bin/ruff --version | cut -d' ' -f2), shellcheck $(shellcheck --version | awk '/^version:/ {print $2}'): clean"
