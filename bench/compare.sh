#!/usr/bin/env bash
# Two builds side by side (bench/compare.py): REV (default a14f8c4, the last commit before the
# fast path of issue 20) against the working tree, the same scenarios interleaved in one run.
# Builds REV in a detached worktree under target/ (sharing target/'s dependencies), then this
# tree; about 6 minutes after the builds.
#   bash bench/compare.sh [REV]
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-a14f8c4}"
if ! command -v wrk >/dev/null; then
  echo "compare: installing wrk (Debian package)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
src="target/compare/src-$rev"
if [ ! -d "$src" ]; then
  git worktree add --detach "$src" "$rev"
fi
CARGO_TARGET_DIR="$PWD/target" cargo build --release -p trainers-cli --manifest-path "$src/Cargo.toml"
cp target/release/trainers "target/compare/trainers-$rev"
cargo build --release -p trainers-cli -p trainers-bench -p trainers-realtime-bench
python3 bench/compare.py "target/compare/trainers-$rev" target/release/trainers
