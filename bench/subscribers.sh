#!/usr/bin/env bash
# The real-time benchmark (not a test): 1,000 AppSync subscribers on one `trainers serve`, a burst
# of 200 mutations over HTTP; prints the delivery latency p50/p99 and the server's memory.
# Loopback only; stops by itself. Options pass through, e.g. --subscribers 500 --mutations 100.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p trainers-cli -p trainers-realtime-bench
target/release/realtime-bench --server target/release/trainers \
  --subscribers 1000 --mutations 200 --concurrency 4 "$@"
