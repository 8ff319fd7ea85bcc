#!/usr/bin/env bash
# Runs a command with two DynamoDB-compatible servers up on loopback, for the DynamoDB store's
# tests: dynalite (tools/node_modules) and moto_server (.venv; through scripts/moto-server.py,
# which makes it serve one request at a time), as scripts/setup-tools.sh installs them. Exports
# their endpoints as TRAINERS_TEST_DYNALITE and TRAINERS_TEST_MOTO, runs the command, and stops
# both servers by process id whatever happens.
#
#   scripts/dynamodb-servers.sh cargo test -p trainers-conformance --test dynamodb
#   scripts/dynamodb-servers.sh            # no command: print the exports, serve until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."

dynalite=tools/node_modules/.bin/dynalite
moto=.venv/bin/moto_server
for tool in "$dynalite" "$moto"; do
  if [ ! -x "$tool" ]; then
    echo "dynamodb-servers: $tool is missing: run scripts/setup-tools.sh (or make test)" >&2
    exit 1
  fi
done

logs=$(mktemp -d "${TMPDIR:-/tmp}/trainers-dynamodb-servers.XXXXXX")
pids=()
stop() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$logs"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts "$@", with PORT replaced by a free port, until it answers HTTP. Sets `endpoint` to its
# URL and adds its pid to `pids`.
start() {
  local name=$1
  shift
  local attempt port pid
  for attempt in 1 2 3; do
    port=$(free_port)
    "${@//PORT/$port}" >"$logs/$name.log" 2>&1 &
    pid=$!
    endpoint="http://127.0.0.1:$port"
    for _ in $(seq 1 300); do
      if curl -s -o /dev/null -X POST "$endpoint/"; then
        pids+=("$pid")
        return 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "dynamodb-servers: $name did not answer on port $port (attempt $attempt):" >&2
    cat "$logs/$name.log" >&2
  done
  exit 1
}

endpoint=
start dynalite "$dynalite" --host 127.0.0.1 --port PORT \
  --createTableMs 0 --deleteTableMs 0 --updateTableMs 0
export TRAINERS_TEST_DYNALITE=$endpoint
start moto .venv/bin/python scripts/moto-server.py -H 127.0.0.1 -p PORT
export TRAINERS_TEST_MOTO=$endpoint

if [ $# -eq 0 ]; then
  echo "export TRAINERS_TEST_DYNALITE=$TRAINERS_TEST_DYNALITE TRAINERS_TEST_MOTO=$TRAINERS_TEST_MOTO"
  echo "dynamodb-servers: serving until Ctrl-C" >&2
  while true; do
    sleep 3600 &
    pids+=("$!")
    wait "$!"
  done
fi
echo "dynamodb-servers: dynalite at $TRAINERS_TEST_DYNALITE, moto at $TRAINERS_TEST_MOTO" >&2
"$@"
