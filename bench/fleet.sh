#!/usr/bin/env bash
# The fleet benchmark (not a test): one real-time load, in one run, on
#   1. ONE `trainers serve`, embedded store, events in the process (no Redis);
#   2. THREE `trainers serve` on one dynalite table, sharing events through one redis-server,
#      the subscribers and the mutations spread evenly over them (subscriber i and mutation i on
#      server i mod 3);
#   3. the same fleet behind nginx (crates/conformance/tests/nginx/trainers.conf): subscribers
#      and mutations through nginx, which spreads them by round robin;
#   4. a control: ONE `trainers serve` on a dynalite table, events in the process, to tell what
#      the store costs from what Redis costs.
# The load: 900 AppSync subscribers to onCreateTrainer (300 a server in the fleet), then 200
# createTrainer mutations, 4 at a time. Printed by crates/realtime-bench: delivery latency
# p50/p99 from each mutation's HTTP response to each subscriber's data message, and events/s.
# Release builds; loopback only; every process it starts is stopped by pid at the end. Results
# also go to bench/fleet-results.md.
#
#   bash bench/fleet.sh                       # SUBSCRIBERS=300 MUTATIONS=200 by default
#   SUBSCRIBERS=100 MUTATIONS=50 bash bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
if [ -z "${TRAINERS_TEST_DYNALITE:-}" ]; then
  bash scripts/setup-tools.sh
  cargo build --release --quiet -p trainers-cli -p trainers-realtime-bench
  # dynalite (and moto, unused here) on loopback; then this script again, inside.
  exec bash scripts/dynamodb-servers.sh bash "$0" "$@"
fi

per_server=${SUBSCRIBERS:-300}
mutations=${MUTATIONS:-200}
concurrency=4
total=$((per_server * 3))
key=da2-realtimebenchkey000000000
trainers=$target/release/trainers
bench=$target/release/realtime-bench
nginx=$(command -v nginx || echo /usr/sbin/nginx)
for program in "$trainers" "$bench" "$nginx" "$(command -v redis-server || true)"; do
  if [ ! -x "$program" ]; then
    echo "fleet.sh: ${program:-redis-server} is missing (scripts/setup-tools.sh, cargo build --release)" >&2
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/trainers-fleet-bench.XXXXXX")
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "fleet.sh: nothing listens on $1" >&2
  exit 1
}

# Starts `trainers serve` with "$@"; sets `addr` once /readyz says ready with nothing to add
# (with --events: once its events are shared through Redis).
serve() {
  local name=$1 port
  shift
  port=$(free_port)
  "$trainers" serve --addr "127.0.0.1:$port" --api-key "$key" --data-dir "$work/$name" "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=("$!")
  addr=127.0.0.1:$port
  for _ in $(seq 1 100); do
    if [ "$(curl -s "http://$addr/readyz" || true)" = '{"status":"ready"}' ]; then return 0; fi
    sleep 0.1
  done
  echo "fleet.sh: server $name did not get ready:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

stop_last() { # stops the last $1 processes started
  local n
  for n in $(seq 1 "$1"); do
    kill "${pids[-1]}" 2>/dev/null || true
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
  done
}

results=$work/results.txt
run() {
  local title=$1
  shift
  echo "## $title" | tee -a "$results"
  echo | tee -a "$results"
  echo '```' | tee -a "$results"
  "$bench" --subscribers "$total" --mutations "$mutations" --concurrency "$concurrency" "$@" 2>&1 |
    tee -a "$results"
  echo '```' | tee -a "$results"
  echo | tee -a "$results"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results"
echo | tee -a "$results"

run "1. One server, embedded store, events in the process (no Redis)" --server "$trainers"

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=("$!")
wait_port "$rport"
export TRAINERS_TOKEN_SECRET=fleet-bench-secret
table=trainers-fleet-bench-$$-$RANDOM
"$trainers" table create --table "$table" --endpoint-url "$TRAINERS_TEST_DYNALITE" >/dev/null 2>"$work/table.log" ||
  { cat "$work/table.log" >&2; exit 1; }
fleet=()
for n in 1 2 3; do
  serve "s$n" --store dynamodb --table "$table" --endpoint-url "$TRAINERS_TEST_DYNALITE" \
    --events "redis://127.0.0.1:$rport"
  fleet+=("http://$addr")
done
run "2. Three servers on one dynalite table, events through Redis" \
  --servers "$(IFS=,; echo "${fleet[*]}")"

nport=$(free_port)
mkdir -p "$work/nginx"
conf=$(cat crates/conformance/tests/nginx/trainers.conf)
conf=${conf/listen 8080;/listen 127.0.0.1:$nport;}
for n in 1 2 3; do
  conf=${conf/server 127.0.0.1:808$n /server ${fleet[$((n - 1))]#http://} }
done
printf '%s\n' "$conf" >"$work/nginx/trainers.conf"
cat >"$work/nginx/nginx.conf" <<'EOF'
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid nginx.pid;
error_log error.log notice;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path client_body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    include trainers.conf;
}
EOF
"$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=("$!")
wait_port "$nport"
run "3. The same three servers behind nginx (one worker), everything through nginx" \
  --servers "http://127.0.0.1:$nport"
stop_last 5 # nginx, the three servers, redis-server

table2=trainers-fleet-bench-one-$$-$RANDOM
"$trainers" table create --table "$table2" --endpoint-url "$TRAINERS_TEST_DYNALITE" >/dev/null 2>"$work/table.log" ||
  { cat "$work/table.log" >&2; exit 1; }
serve one --store dynamodb --table "$table2" --endpoint-url "$TRAINERS_TEST_DYNALITE"
run "4. Control: one server on a dynalite table, events in the process (no Redis)" \
  --servers "http://$addr"

{
  echo "# bench/fleet.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$total AppSync subscribers (onCreateTrainer), $mutations createTrainer mutations ($concurrency at a time);"
  echo "$(nproc) cores shared by everything (servers, dynalite, redis-server, nginx, the client); loopback."
  echo
  cat "$results"
} >bench/fleet-results.md
echo "fleet.sh: results in bench/fleet-results.md"
