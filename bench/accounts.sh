#!/usr/bin/env bash
# The accounts benchmark (bench/accounts.py, issue 19 item 8): getTrainer signed in against
# getTrainer with the API key in the same run, createTrainer signed in, and the server CPU a
# refused forged token costs. Installs wrk if missing, builds the release binary; about 2 minutes
# after it. BENCH_ROUNDS (3) and BENCH_SECONDS (5) change the length.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "accounts: installing wrk (Debian package)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
cargo build --release -p trainers-cli
python3 bench/accounts.py "$@"
