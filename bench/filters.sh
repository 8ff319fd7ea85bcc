#!/usr/bin/env bash
# Filters, counts and sorted lists at 1,000,000 trainers (bench/filters.py), then a filtered scan
# on dynalite. About 5 minutes plus the release build.
#   bash bench/filters.sh                  # 1,000,000 trainers
#   BENCH_N=100000 bash bench/filters.sh   # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian package)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
bash scripts/setup-tools.sh >/dev/null
cargo build --release -p trainers-cli -p trainers-bench
bash scripts/dynamodb-servers.sh python3 bench/filters.py "$@"
