#!/usr/bin/env bash
# The operations figures, in one run after one release build: TLS overhead (bench/tls.py), a 60 s
# soak with 5% malformed requests (bench/soak.py), and a DynamoDB outage (bench/dynamodb-outage.py,
# on dynalite). Results in bench/{tls,soak,outage}-results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
bash scripts/setup-tools.sh
cargo build --release -p trainers-cli
python3 bench/tls.py
python3 bench/soak.py
bash scripts/dynamodb-servers.sh python3 bench/dynamodb-outage.py
