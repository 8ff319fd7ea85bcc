#!/usr/bin/env bash
# Refused key → the client's error, for Amplify JS v6 and Apollo Client with AWS's AppSync links
# (bench/clients/refused-key.mjs). Installs the clients as the end-to-end tests pin them, then
# measures against TRAINERS_BIN (default target/debug/trainers). Options pass through: a number
# of trials (default 20). Loopback only; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TRAINERS_BIN="${TRAINERS_BIN:-$PWD/target/debug/trainers}"
bash scripts/setup-e2e-clients.sh
node bench/clients/refused-key.mjs "$@"
