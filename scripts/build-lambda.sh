#!/usr/bin/env bash
# Builds the Lambda asset that infra/ deploys: target/lambda/bootstrap/bootstrap, the
# `bootstrap` binary of crates/lambda for provided.al2023 on x86_64. `cargo lambda build` (PyPI
# cargo-lambda, with zig as the linker, from .venv) targets glibc 2.30, below Amazon Linux
# 2023's 2.34. A release build takes minutes, so it is skipped when the binary is newer than
# every source it is built from.
#
#   scripts/build-lambda.sh          # build when out of date
#   scripts/build-lambda.sh --force  # build anyway
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/lambda/bootstrap/bootstrap
sources=(Cargo.toml Cargo.lock crates/lambda crates/core crates/store-dynamodb)

if [ "${1:-}" != "--force" ] && [ -x "$out" ] &&
  [ -z "$(find "${sources[@]}" -newer "$out" -type f -print -quit)" ]; then
  echo "build-lambda: $out is up to date"
  exit 0
fi

if [ ! -x .venv/bin/cargo-lambda ]; then
  echo "build-lambda: .venv/bin/cargo-lambda is missing: run scripts/setup-tools.sh (or make tools)" >&2
  exit 1
fi

# cargo-lambda finds zig through the Python of .venv (PyPI ziglang).
export PATH="$PWD/.venv/bin:$PATH"
# A smaller binary, and a faster cold start: no symbols in the asset.
export CARGO_PROFILE_RELEASE_STRIP=true
cargo lambda build --release -p trainers-lambda --bin bootstrap
ls -l "$out"
