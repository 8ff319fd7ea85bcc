#!/usr/bin/env bash
# Every test of the project. Installs its tools, starts the services the tests need on loopback,
# runs the suites, and stops the services, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
LOGS="$(mktemp -d)"
PASSED=0
FAILED=0

# Adds the "test result: ok. N passed; M failed" lines of a cargo test log to the totals.
tally_cargo() {
  local p f
  p=$(grep -Eo '[0-9]+ passed' "$1" | awk '{s += $1} END {print s + 0}')
  f=$(grep -Eo '[0-9]+ failed' "$1" | awk '{s += $1} END {print s + 0}')
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
}

bash scripts/setup-tools.sh

echo "== lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== Rust tests"
cargo test --workspace --lib --bins --tests 2>&1 | tee "$LOGS/cargo.log"
tally_cargo "$LOGS/cargo.log"

echo
echo "all suites: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
