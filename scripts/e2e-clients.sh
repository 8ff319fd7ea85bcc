#!/usr/bin/env bash
# The end-to-end tests with real AppSync clients, unchanged, against a real `trainers serve`:
# AWS Amplify JS v6 in Node (tests/e2e/amplify; amplify-auth.e2e.mjs signs in against moto's
# Cognito, started from .venv), Apollo Client with AWS's AppSync links in Node
# (tests/e2e/apollo; apollo-auth.e2e.mjs signs in with moto's Cognito tokens), and Amplify in a
# page in Chromium (tests/e2e/browser; browser-auth.e2e.mjs's page signs in against moto's
# Cognito); the moto helpers are tests/e2e/lib/cognito.mjs. The
# server is TRAINERS_BIN (default target/debug/trainers), with TLS on its port: this script makes the
# certificate with `trainers tls create` and starts node trusting it (NODE_EXTRA_CA_CERTS), as a
# developer would. Prints node's TAP output and summary; exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

TRAINERS_BIN="${TRAINERS_BIN:-$PWD/target/debug/trainers}"
if [ ! -x "$TRAINERS_BIN" ]; then
  echo "e2e-clients: no trainers binary at $TRAINERS_BIN (cargo build -p trainers-cli, or set TRAINERS_BIN)" >&2
  exit 1
fi
export TRAINERS_BIN

bash scripts/setup-e2e-clients.sh

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$TRAINERS_BIN" tls create --dir "$work/tls" >/dev/null
export TRAINERS_TLS_DIR="$work/tls"
export NODE_EXTRA_CA_CERTS="$work/tls/ca.pem"

# One file at a time (a browser and a server on two shared cores). --test-force-exit: Amplify
# leaves a 15 s timer behind each connection_init, which would keep node alive after the tests.
node --test --test-reporter=tap --test-concurrency=1 --test-force-exit --test-timeout=120000 \
  tests/e2e/amplify/amplify.e2e.mjs \
  tests/e2e/amplify/amplify-auth.e2e.mjs \
  tests/e2e/apollo/apollo.e2e.mjs \
  tests/e2e/apollo/apollo-auth.e2e.mjs \
  tests/e2e/browser/browser.e2e.mjs \
  tests/e2e/browser/browser-auth.e2e.mjs
