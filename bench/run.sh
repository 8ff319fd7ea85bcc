#!/usr/bin/env bash
# The load benchmark: installs wrk, builds the release binaries, runs every scenario, and writes
# bench/results.json, bench/results.md and bench/figures.svg. About 4 minutes plus the build.
#   bash bench/run.sh            # the full run, 1,000,000 trainers
#   BENCH_N=100000 bash bench/run.sh   # a quicker run
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian package)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
cargo build --release -p trainers-cli -p trainers-bench
python3 bench/bench.py "$@"
