#!/usr/bin/env bash
# The hardening benchmark (bench/hardening.py): memory over 100,000 subscribe/stop cycles and
# 10,000 connect/close cycles, the CPU of each refused input, threads during a disconnecting
# scan flood. Builds the release binary; about 5 minutes after it. BENCH_CYCLES, BENCH_CONNECTS
# and BENCH_SCAN_ROWS make it shorter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tools.sh
cargo build --release -p trainers-cli
.venv/bin/python bench/hardening.py
