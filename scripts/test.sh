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
  p=$({ grep -Eo '[0-9]+ passed' "$1" || true; } | awk '{s += $1} END {print s + 0}')
  f=$({ grep -Eo '[0-9]+ failed' "$1" || true; } | awk '{s += $1} END {print s + 0}')
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
}

bash scripts/setup-tools.sh
bash scripts/setup-e2e-clients.sh

echo "== lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
bash scripts/lint-infra.sh

echo "== Rust tests with no server (every TRAINERS_TEST_* variable unset, as on a clean clone)"
# A plain `cargo test` must pass with nothing running: a test that needs dynalite, moto_server,
# redis-server or nginx is #[ignore]d and fails loudly when its server is missing. Running the
# not-ignored tests here with the server variables unset makes a test that forgets its #[ignore]
# fail in CI instead of passing only because scripts/dynamodb-servers.sh happened to be around.
unset_servers=()
for var in $(compgen -e | grep '^TRAINERS_TEST_' || true); do
  unset_servers+=(-u "$var")
done
env "${unset_servers[@]}" cargo test --workspace --lib --bins --tests 2>&1 | tee "$LOGS/cargo.log"
tally_cargo "$LOGS/cargo.log"

echo "== Rust tests, the ignored ones (dynalite and moto_server up; the fleet tests start redis-server)"
# --ignored, not --include-ignored: the others ran above.
bash scripts/dynamodb-servers.sh cargo test --workspace --lib --bins --tests -- --ignored 2>&1 | tee "$LOGS/cargo-ignored.log"
tally_cargo "$LOGS/cargo-ignored.log"

echo "== Lambda asset (scripts/build-lambda.sh: cargo lambda build --release, skipped when up to date)"
bash scripts/build-lambda.sh

echo "== CDK app (infra/): pytest on the synthesized template, cdk-nag, one real cdk synth"
# Offline: the CDK CLI neither reports telemetry nor checks for a newer version.
(cd infra && TRAINERS_REQUIRE_LAMBDA_ASSET=1 CDK_DISABLE_CLI_TELEMETRY=true \
  CDK_DISABLE_VERSION_CHECK=1 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 \
  ../.venv/bin/python -m pytest -q -p no:cacheprovider tests) 2>&1 | tee "$LOGS/pytest.log"
tally_cargo "$LOGS/pytest.log" # pytest's summary has the same "N passed, M failed"

echo "== Real-time end to end (tests/e2e): gql's AppSync transport and npm's graphql-ws against trainers serve; moto's Cognito and oauth2-mock-server issuing tokens"
cargo build --quiet -p trainers-cli
export TRAINERS_BIN="$PWD/target/debug/trainers"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e 2>&1 | tee "$LOGS/e2e-pytest.log"
tally_cargo "$LOGS/e2e-pytest.log"
node --test --test-reporter=tap tests/e2e/ 2>&1 | tee "$LOGS/e2e-node.log"
PASSED=$((PASSED + $(awk '/^# pass /{s += $3} END {print s + 0}' "$LOGS/e2e-node.log")))
FAILED=$((FAILED + $(awk '/^# fail /{s += $3} END {print s + 0}' "$LOGS/e2e-node.log")))

echo "== Explorer page end to end (tests/e2e/explorer): Debian's Chromium against trainers serve"
bash scripts/e2e-explorer.sh 2>&1 | tee "$LOGS/e2e-explorer.log"
PASSED=$((PASSED + $(awk '/^# pass /{s += $3} END {print s + 0}' "$LOGS/e2e-explorer.log")))
FAILED=$((FAILED + $(awk '/^# fail /{s += $3} END {print s + 0}' "$LOGS/e2e-explorer.log")))

echo "== AppSync's own clients end to end (scripts/e2e-clients.sh): Amplify JS v6 and Apollo in Node, Amplify in Chromium, over https/wss"
bash scripts/e2e-clients.sh 2>&1 | tee "$LOGS/e2e-clients.log"
PASSED=$((PASSED + $(awk '/^# pass /{s += $3} END {print s + 0}' "$LOGS/e2e-clients.log")))
FAILED=$((FAILED + $(awk '/^# fail /{s += $3} END {print s + 0}' "$LOGS/e2e-clients.log")))

echo
echo "all suites: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
