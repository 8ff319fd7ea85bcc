#!/usr/bin/env bash
# Fuzzes each target of fuzz/ (cargo-fuzz, libFuzzer) for a bounded time and says what it found.
# Not part of `make test`: run it by hand or on a schedule.
#
#   scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh parse_limits
#
# Environment:
#   FUZZ_SECONDS     seconds per target (default 60)
#   FUZZ_SANITIZER   address (default; falls back to none if it does not build) or none
#   FUZZ_TARGET_DIR  where the fuzz build goes (default fuzz/target): its flags differ from the
#                    workspace's, so keep it apart
#   BUILD_LOCK       a file every cargo command and fuzz run holds with flock (default
#                    /tmp/trainers-build.lock), so that builds on a shared machine take turns
#
# cargo-fuzz needs nightly flags (-Z); the stable toolchain takes them with RUSTC_BOOTSTRAP=1,
# set here for cargo-fuzz's commands only. Each target starts from a temporary copy of its seeds
# in fuzz/corpus/<target>/, so the repository keeps only the curated seeds. A crash, timeout or
# OOM input is copied to fuzz/artifacts/<target>/ (ignored by git; keep one that matters in
# fuzz/findings/) and makes the script exit 1. libFuzzer stops a target at its first finding.
#
# Per target: -timeout is the seconds one input may take (parse_limits must be linear, so 1 s is
# already a finding; http_request goes to the store, which writes to disk), -rss_limit_mb the
# memory of the process (ASan's shadow memory included).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$root/fuzz"
seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
lock="${BUILD_LOCK:-/tmp/trainers-build.lock}"
if [[ -z "${FUZZ_TARGET_DIR:-}" ]]; then
  FUZZ_TARGET_DIR="$fuzz_dir/target"
fi
all_targets=(parse_limits http_request page_token filter_variables ws_message)
if (($# > 0)); then targets=("$@"); else targets=("${all_targets[@]}"); fi

# Runs a command holding the build lock (when flock exists).
locked() {
  if command -v flock >/dev/null; then flock "$lock" "$@"; else "$@"; fi
}

# The flags of one target's run (besides the time and the artifact prefix).
target_flags() {
  local dict="-dict=$fuzz_dir/dicts/graphql.dict"
  case "$1" in
    parse_limits) echo "-timeout=1 -rss_limit_mb=512 -max_len=65536 $dict" ;;
    http_request) echo "-timeout=3 -rss_limit_mb=512 -max_len=65536 $dict" ;;
    page_token) echo "-timeout=1 -rss_limit_mb=512 -max_len=4096" ;;
    filter_variables) echo "-timeout=2 -rss_limit_mb=1024 -max_len=131072 $dict" ;;
    ws_message) echo "-timeout=10 -rss_limit_mb=1024 -max_len=131072 $dict" ;;
    *) echo "unknown fuzz target: $1 (known: ${all_targets[*]})" >&2; return 1 ;;
  esac
}

# What the fuzz build needs: cargo-fuzz, and a C++ compiler for libFuzzer.
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz"
  locked cargo install cargo-fuzz --locked
fi
if ! command -v c++ >/dev/null; then
  echo "== installing a C++ compiler (libFuzzer is C++)"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && apt-get install -y -qq g++
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq g++
  fi
fi

cargo_fuzz() {
  (cd "$fuzz_dir" && locked env RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$FUZZ_TARGET_DIR" \
    cargo fuzz "$@")
}

echo "== building the fuzz targets (sanitizer: $sanitizer)"
if ! cargo_fuzz build --sanitizer "$sanitizer"; then
  if [[ "$sanitizer" == none ]]; then exit 1; fi
  echo "== the $sanitizer sanitizer did not build; building without a sanitizer"
  sanitizer=none
  cargo_fuzz build --sanitizer none
fi

work="$(mktemp -d -t trainers-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT

failed=0
summary=()
for target in "${targets[@]}"; do
  flags="$(target_flags "$target")"
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  mkdir -p "$corpus" "$artifacts" "$work/tmp/$target"
  cp -r "$fuzz_dir/corpus/$target/." "$corpus/"
  log="$work/$target.log"
  echo "== fuzzing $target for ${seconds}s: $flags"
  start=$(date +%s.%N)
  status=0
  # TMPDIR: where http_request keeps its store, removed with $work.
  # shellcheck disable=SC2086
  TMPDIR="$work/tmp/$target" cargo_fuzz run "$target" --sanitizer "$sanitizer" "$corpus" -- \
    -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" $flags \
    >"$log" 2>&1 || status=$?
  final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  executions=$(final_stat number_of_executed_units)
  per_second=$(final_stat average_exec_per_sec)
  new_units=$(final_stat new_units_added)
  # libFuzzer's own time ("Done N runs in S second(s)"); after a finding, its executions over
  # its rate; else the wall time, which counts the wait for the build lock too.
  elapsed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [[ -z "$elapsed" && "${per_second:-0}" -gt 0 ]]; then
    elapsed=$(awk -v n="$executions" -v r="$per_second" 'BEGIN { print n / r }')
  elif [[ -z "$elapsed" ]]; then
    elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  fi
  count() { find "$artifacts" -name "$1-*" | wc -l; }
  crashes=$(count crash)
  timeouts=$(count timeout)
  ooms=$(count oom)
  leaks=$(count leak)
  found=$((crashes + timeouts + ooms + leaks))
  if ((found > 0)); then
    mkdir -p "$fuzz_dir/artifacts/$target"
    cp "$artifacts"/* "$fuzz_dir/artifacts/$target/"
    echo "-- $target found something; its input is in fuzz/artifacts/$target/:"
    ls "$artifacts"
    grep -E -A1 "panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|^SUMMARY" "$log" \
      | head -20 || true
    failed=1
  elif ((status != 0)); then
    echo "-- $target exited with $status and no finding; the end of its log:"
    tail -40 "$log"
    failed=1
  fi
  summary+=("$(printf '%-13s %12s %9.1f %9s %10s %8s %9s %5s %6s' "$target" "${executions:-?}" \
    "$elapsed" "${per_second:-?}" "${new_units:-?}" "$crashes" "$timeouts" "$ooms" "$leaks")")
done

echo
echo "== fuzzing summary (sanitizer: $sanitizer, ${seconds}s per target)"
printf '%-13s %12s %9s %9s %10s %8s %9s %5s %6s\n' target executions seconds exec/s new_units \
  crashes timeouts ooms leaks
printf '%s\n' "${summary[@]}"
if ((failed)); then
  echo "FUZZING FOUND PROBLEMS: see above, and the inputs in fuzz/artifacts/"
  exit 1
fi
echo "no crash, timeout, OOM or leak"
