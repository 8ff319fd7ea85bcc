#!/usr/bin/env bash
# Every test of the project. Installs its tools, starts the services the tests need on loopback,
# runs the suites, and stops the services, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

bash scripts/setup-tools.sh

echo "== lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== Rust tests"
cargo test --workspace --quiet
