#!/usr/bin/env python3
"""What the hardening work bounds, measured against a release `trainers serve` (run through
bench/hardening.sh): memory over long soaks of subscribe/stop and connect/close, the server CPU
each refused input costs, and threads and CPU while clients start full scans and disconnect.

Writes bench/hardening-results.{md,json}. Standard library, plus `websockets` from .venv.
"""

import base64
import json
import os
import socket
import sys
import tempfile
import threading
import time

from websockets.sync.client import connect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import KEY, ROOT, TRAINERS, Server, generate  # noqa: E402

CYCLES = int(os.environ.get("BENCH_CYCLES", "100000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTS", "10000"))
SCAN_ROWS = int(os.environ.get("BENCH_SCAN_ROWS", "300000"))
OUT = os.path.join(ROOT, "bench", "hardening-results")


def log(*args):
    print("hardening:", *args, file=sys.stderr, flush=True)


def rss_mb(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def threads(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def metric(server, name):
    import urllib.request
    base = server.url.rsplit("/graphql", 1)[0]
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def realtime_url(server, with_key=True):
    host = server.url.split("//", 1)[1].split("/", 1)[0]
    header = {"host": host, **({"x-api-key": KEY} if with_key else {})}
    encoded = base64.b64encode(json.dumps(header).encode()).decode()
    return f"ws://{host}/graphql/realtime?header={encoded}&payload=e30="


def recv_type(ws, kind):
    while True:
        message = json.loads(ws.recv(timeout=30))
        if message["type"] == kind:
            return message
        if message["type"] != "ka":
            raise SystemExit(f"hardening: expected {kind}, got {message}")


def start_message(sub_id, query, variables):
    auth = {"x-api-key": KEY, "host": "bench"}
    data = json.dumps({"query": query, "variables": variables})
    return json.dumps({"id": sub_id, "type": "start", "payload": {"data": data, "extensions": {"authorization": auth}}})


def subscription_soak(server):
    query = "subscription($id: ID) { onUpdateTrainer(id: $id) { id } }"
    before = rss_mb(server)
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    with connect(realtime_url(server), subprotocols=["graphql-ws"], max_size=None) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        recv_type(ws, "connection_ack")
        for n in range(CYCLES):
            ws.send(start_message(f"s{n}", query, {"id": f"x-{n}"}))
            recv_type(ws, "start_ack")
            ws.send(json.dumps({"id": f"s{n}", "type": "stop"}))
            recv_type(ws, "complete")
            if n % 20000 == 0:
                log(f"subscribe/stop {n:,}: RSS {rss_mb(server):.1f} MB")
        during = rss_mb(server)
        executions = metric(server, "trainers_subscription_executions")
    wall = time.perf_counter() - started
    time.sleep(0.5)
    row = {"soak": f"{CYCLES:,} subscribe/stop cycles on one AppSync connection (distinct ids)",
           "rss_before_mb": before, "rss_at_end_mb": during, "rss_after_close_mb": rss_mb(server),
           "executions_at_end": executions, "seconds": wall,
           "server_cpu_us_per_cycle": (server.cpu_seconds() - cpu) * 1e6 / CYCLES}
    log(row)
    return row


def connection_soak(server):
    before = rss_mb(server)
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    query = "subscription { onCreateTrainer { id } }"
    for n in range(CONNECTIONS):
        with connect(realtime_url(server), subprotocols=["graphql-ws"], max_size=None) as ws:
            ws.send(json.dumps({"type": "connection_init"}))
            recv_type(ws, "connection_ack")
            ws.send(start_message("s", query, {}))
            recv_type(ws, "start_ack")
        if n % 2000 == 0:
            log(f"connect/close {n:,}: RSS {rss_mb(server):.1f} MB")
    wall = time.perf_counter() - started
    time.sleep(0.5)
    row = {"soak": f"{CONNECTIONS:,} AppSync connections, each subscribing once, then closed",
           "rss_before_mb": before, "rss_at_end_mb": rss_mb(server), "rss_after_close_mb": rss_mb(server),
           "executions_at_end": metric(server, "trainers_subscription_executions"),
           "open_websockets_at_end": metric(server, "trainers_websockets_open"), "seconds": wall,
           "server_cpu_us_per_cycle": (server.cpu_seconds() - cpu) * 1e6 / CONNECTIONS}
    log(row)
    return row


def http_post(server, body):
    host, port = server.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    head = (f"POST /graphql HTTP/1.1\r\nhost: x\r\nx-api-key: {KEY}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(head + body)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    text = b"".join(chunks).decode(errors="replace")
    status = text.split(" ", 2)[1] if text.startswith("HTTP/") else "?"
    body = text.split("\r\n\r\n", 1)[-1]
    try:
        first = json.loads(body)["errors"][0]
        return f"HTTP {status} {first.get('errorType')}: {first.get('message', '')[:70]}"
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {status}: {body[:70]}"


def ws_start(server, query, variables):
    with connect(realtime_url(server), subprotocols=["graphql-ws"], max_size=None) as ws:
        ws.send(start_message("big", query, variables))
        while True:
            message = json.loads(ws.recv(timeout=60))
            if message["type"] in ("error", "start_ack"):
                break
    if message["type"] == "start_ack":
        return "start_ack (accepted)"
    first = message["payload"]["errors"][0]
    return f"{message['type']} {first.get('errorType')}: {first.get('message', '')[:70]}"


def keyless(server):
    started = time.perf_counter()
    with connect(realtime_url(server, with_key=False), subprotocols=["graphql-ws"], max_size=None) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        recv_type(ws, "connection_ack")
        message = recv_type(ws, "connection_error")
    return f"connection_error {message['payload']['errors'][0]['errorType']} after {time.perf_counter() - started:.1f} s"


def refused_inputs(server):
    filtered = "query($f: ModelTrainersFilterInput) { countTrainers(filter: $f) }"
    sub_filtered = "subscription($f: ModelSubscriptionTrainersFilterInput) { onCreateTrainer(filter: $f) { id } }"
    long_sub = "subscription { onCreateTrainer { id " + "__typename " * 90000 + "} }"
    empties = lambda n: {"f": {"and": [{}] * n}}  # noqa: E731
    cases = [
        ("0.9 MB subscription query, AppSync start", lambda: ws_start(server, long_sub, {})),
        ("150,000 empty filter objects as a variable, HTTP",
         lambda: http_post(server, json.dumps({"query": filtered, "variables": empties(150000)}).encode())),
        ("15,000 empty filter objects as a variable, HTTP",
         lambda: http_post(server, json.dumps({"query": filtered, "variables": empties(15000)}).encode())),
        ("600 empty filter objects as a variable, HTTP",
         lambda: http_post(server, json.dumps({"query": filtered, "variables": empties(600)}).encode())),
        ("600 empty objects in a subscription filter, AppSync start (a connection each)",
         lambda: ws_start(server, sub_filtered, empties(600))),
        ("an AppSync connection with no key, left idle", lambda: keyless(server)),
    ]
    rows = []
    for name, send in cases:
        # CPU time is counted in clock ticks (10 ms): each input is sent 20 times, the figure is
        # per input. (The keyless connection waits 5 s: once.)
        times = 1 if "no key" in name else 20
        cpu, started = server.cpu_seconds(), time.perf_counter()
        for _ in range(times):
            got = send()
        row = {"input": name, "answer": got, "server_cpu_ms": (server.cpu_seconds() - cpu) * 1000 / times,
               "wall_ms": (time.perf_counter() - started) * 1000 / times}
        log(row)
        rows.append(row)
    return rows


def scan_flood(server, clients=12, rounds=5):
    """`clients` clients each start a full filtered scan and disconnect after 0.3 s, `rounds`
    times; the server's threads are sampled throughout, and its CPU in the 2 s after the last
    client left (scans that go on after their clients show up there)."""
    body = json.dumps({"query": 'query { countTrainers(filter: {lastName: {contains: "zzz"}}) }'}).encode()
    host, port = server.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    head = (f"POST /graphql HTTP/1.1\r\nhost: x\r\nx-api-key: {KEY}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode()
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(threads(server))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    baseline = threads(server)
    for _ in range(rounds):
        socks = []
        for _ in range(clients):
            s = socket.create_connection((host, int(port)))
            s.sendall(head + body)
            socks.append(s)
        time.sleep(0.3)
        for s in socks:
            s.close()
    cpu = server.cpu_seconds()
    time.sleep(2)
    after = (server.cpu_seconds() - cpu) * 1000
    stop.set()
    sampler.join()
    row = {"flood": f"{clients} clients x {rounds} rounds, each a full scan of {SCAN_ROWS:,} trainers, gone after 0.3 s",
           "threads_before": baseline, "threads_max": max(samples), "server_cpu_ms_in_2s_after": after}
    log(row)
    return row


def main():
    if os.environ.get("ONLY_REFUSED"):
        with tempfile.TemporaryDirectory() as data_dir:
            server = Server([TRAINERS, "--data-dir", data_dir, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
            try:
                refused_inputs(server)
            finally:
                server.stop()
        return
    with tempfile.TemporaryDirectory() as data_dir:
        server = Server([TRAINERS, "--data-dir", data_dir, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
        try:
            soaks = [subscription_soak(server), connection_soak(server)]
            refused = refused_inputs(server)
        finally:
            server.stop()
    with tempfile.TemporaryDirectory() as data_dir:
        log(f"seeding {SCAN_ROWS:,} trainers")
        generate(data_dir, SCAN_ROWS)
        server = Server([TRAINERS, "--data-dir", data_dir, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
        try:
            flood = scan_flood(server)
        finally:
            server.stop()
    results = {"soaks": soaks, "refused": refused, "flood": flood}
    with open(OUT + ".json", "w") as f:
        json.dump(results, f, indent=2)
    lines = ["| soak | RSS before (MB) | at the end | after close | executions left | server CPU per cycle (µs) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in soaks:
        lines.append(f"| {r['soak']} | {r['rss_before_mb']:.1f} | {r['rss_at_end_mb']:.1f} | "
                     f"{r['rss_after_close_mb']:.1f} | {r['executions_at_end']:.0f} | {r['server_cpu_us_per_cycle']:.0f} |")
    lines += ["", "| refused input | answer | server CPU (ms) | time to answer (ms) |", "| --- | --- | ---: | ---: |"]
    for r in refused:
        lines.append(f"| {r['input']} | {r['answer']} | {r['server_cpu_ms']:.1f} | {r['wall_ms']:.1f} |")
    lines += ["", "| scan flood | threads before | threads at most | server CPU in the 2 s after (ms) |",
              "| --- | ---: | ---: | ---: |",
              f"| {flood['flood']} | {flood['threads_before']} | {flood['threads_max']} | {flood['server_cpu_ms_in_2s_after']:.0f} |"]
    with open(OUT + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
