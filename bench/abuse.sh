#!/usr/bin/env bash
# The abusive-request benchmark: builds the release binary, and the binary of the commit before
# the query bounds (BENCH_BEFORE, default dccc39c) in a worktree of its own, then runs
# bench/abuse.py: each abusive request's answer, cost and memory; getTrainer's latency under
# attack; getTrainer @32 before and after, interleaved. Writes bench/abuse-results.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
before=${BENCH_BEFORE:-dccc39c}
before_dir=target/bench-before/src
if [ ! -d "$before_dir" ]; then
  git worktree add --detach "$before_dir" "$before"
fi
(cd "$before_dir" && CARGO_TARGET_DIR="$PWD/../target" cargo build --release -p trainers-cli)
cargo build --release -p trainers-cli
BEFORE_BIN="$PWD/target/bench-before/target/release/trainers" python3 bench/abuse.py
