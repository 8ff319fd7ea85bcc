#!/usr/bin/env python3
"""Abusive requests against `trainers serve` (standard library and wrk; run through bench/abuse.sh).

For each request an attacker would send: what it gets, the server CPU time it cost, the wall time
to the answer, and the server's peak RSS after it. Then a normal getTrainer's latency while eight
clients send the costliest of them, and getTrainer at 32 connections against the server as it
was before the bounds (BEFORE_BIN), in the same run, interleaved.
"""

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import KEY, ROOT, TRAINERS, Server  # noqa: E402

BEFORE_BIN = os.environ.get("BEFORE_BIN")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
OUT = os.path.join(ROOT, "bench", "abuse-results")


def log(*args):
    print("abuse:", *args, file=sys.stderr, flush=True)


def raw_post(url, body, headers=None, timeout=300):
    """POSTs bytes; returns (status, body text, x-amzn-ErrorType, seconds)."""
    req = urllib.request.Request(url, body, {"content-type": "application/json", "x-api-key": KEY,
                                             **(headers or {})})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, text, header = resp.status, resp.read().decode(), resp.headers.get("x-amzn-ErrorType")
    except urllib.error.HTTPError as e:
        status, text, header = e.code, e.read().decode(), e.headers.get("x-amzn-ErrorType")
    return status, text, header, time.perf_counter() - started


def gql(query, variables=None):
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def bomb(levels):
    parts = [f"query {{ getTrainer(id: \"x\") {{ ...F{levels} }} }}", "fragment F0 on Trainers { id }"]
    parts += [f"fragment F{n} on Trainers {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, levels + 1)]
    return "\n".join(parts)


def aliases_under_a_page(target_bytes):
    head, tail = "{ allTrainers(limit: 100) { items { ", " } } }"
    fields, n = [], 0
    size = len(head) + len(tail)
    while True:
        field = f"a{n}: firstName "
        if size + len(field) > target_bytes:
            break
        fields.append(field)
        size += len(field)
        n += 1
    return head + "".join(fields) + tail, n


def summary(status, text, header):
    try:
        body = json.loads(text)
    except ValueError:
        return f"HTTP {status}, not JSON: {text[:60]!r}"
    errors = body.get("errors") or []
    if not errors:
        return f"HTTP {status}, data, no error ({len(text):,} bytes)"
    first = errors[0]
    message = first.get("message", "")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"HTTP {status} {first.get('errorType')}{more}: {message[:90]}"


def http_raw(addr, data, read=True):
    host, port = addr
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(data)
        if not read:
            return ""
        chunks = []
        s.settimeout(30)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"413" in chunks[0][:20]:
                break
        return b"".join(chunks).decode(errors="replace")


def measure(server, name, send):
    cpu, started = server.cpu_seconds(), time.perf_counter()
    got = send()
    wall = time.perf_counter() - started
    row = {"request": name, "answer": got, "server_cpu_ms": (server.cpu_seconds() - cpu) * 1000,
           "wall_ms": wall * 1000, "peak_rss_mb": server.peak_rss_mb()}
    log(f"{name}: {got} ({row['server_cpu_ms']:.1f} ms CPU, {row['wall_ms']:.1f} ms, {row['peak_rss_mb']:.1f} MB)")
    return row


def abusive_rows(server):
    url = server.url
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    addr = (host, int(port))
    rows = []

    def post(body, headers=None):
        status, text, header, _ = raw_post(url, body, headers)
        return summary(status, text, header) + (f" [x-amzn-ErrorType: {header}]" if header else "")

    b = bomb(30)
    rows.append(measure(server, f"fragment bomb, 30 levels ({len(b.encode()):,} bytes)", lambda: post(gql(b))))
    q, n = aliases_under_a_page(1024 * 1024 - 200)
    rows.append(measure(server, f"{n:,} aliases under allTrainers(limit: 100) ({len(q.encode()):,} bytes)",
                        lambda: post(gql(q))))

    def distinct_queries():
        # 1,024 distinct queries of about 16 KiB each, every one valid (so each may be cached).
        pad = " ".join(f"f{i}: __typename" for i in range(45))
        for i in range(1024):
            query = "{ " + f"x{i}: __typename " + pad + " }" + " " * (16 * 1024 - 700)
            raw_post(url, gql(query))
        return "1,024 answered; parse cache bounded at 32 MiB by its estimate"
    rows.append(measure(server, "1,024 distinct valid queries of 16 KiB (parse cache)", distinct_queries))

    skips = "{ getTrainer(id: \"x\") { id " + "@skip(if: false) " * 60000 + "} }"
    rows.append(measure(server, f"60,000 repeated @skip on one field ({len(skips):,} bytes)",
                        lambda: post(gql(skips))))
    rows.append(measure(server, "__typename(arg: 1)", lambda: post(gql("{ __typename(arg: 1) }"))))
    dirs = "{ __typename " + "@nope " * 10000 + "}"
    rows.append(measure(server, "10,000 unknown directives on __typename", lambda: post(gql(dirs))))
    rows.append(measure(server, "@include(if: $undefined) on __typename",
                        lambda: post(gql("{ __typename @include(if: $undefined) }"))))
    rows.append(measure(server, "GET /graphql (no upgrade)", lambda: summary(*get(url)[:3])))
    rows.append(measure(server, "GET /nowhere", lambda: summary(*get(url.replace("/graphql", "/nowhere"))[:3])))
    rows.append(measure(server, "PUT /graphql", lambda: summary(*get(url, method="PUT")[:3])))
    head = ("POST /graphql HTTP/1.1\r\nhost: x\r\nx-api-key: " + KEY +
            "\r\ncontent-type: application/json\r\ncontent-length: 2097152\r\nexpect: 100-continue\r\n\r\n")
    rows.append(measure(server, "Expect: 100-continue, Content-Length 2 MiB",
                        lambda: http_raw(addr, head.encode()).split("\r\n", 1)[0] + " (no 100 Continue)"))

    def idle_connections():
        socks = [socket.create_connection(addr) for _ in range(2000)]
        time.sleep(12)  # past the 10 s header timeout
        closed = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except OSError:
                closed += 1
            s.close()
        return f"{closed:,} of 2,000 closed by the server within 12 s"
    rows.append(measure(server, "2,000 idle connections held open", idle_connections))
    return rows


def get(url, method="GET"):
    req = urllib.request.Request(url, method=method, headers={"x-api-key": KEY})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("x-amzn-ErrorType")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("x-amzn-ErrorType")


def latency_under_attack(server, known_id, attack_body, clients=8, seconds=10):
    """getTrainer latencies (ms), one at a time, while `clients` threads send `attack_body`."""
    stop = time.perf_counter() + seconds
    sent = [0]

    def attacker():
        while time.perf_counter() < stop:
            raw_post(server.url, attack_body)
            sent[0] += 1

    def probe(until):
        body = gql("query ($id: ID!) { getTrainer(id: $id) { id firstName } }", {"id": known_id})
        lat = []
        while time.perf_counter() < until:
            status, text, _, secs = raw_post(server.url, body)
            assert status == 200 and "errors" not in text, text
            lat.append(secs * 1000)
        return lat

    quiet = probe(time.perf_counter() + 3)
    threads = [threading.Thread(target=attacker) for _ in range(clients)]
    for t in threads:
        t.start()
    loud = probe(stop)
    for t in threads:
        t.join()
    pct = lambda xs, q: sorted(xs)[min(len(xs) - 1, int(len(xs) * q))]  # noqa: E731
    return {"quiet_p50_ms": statistics.median(quiet), "quiet_p99_ms": pct(quiet, 0.99), "quiet_max_ms": max(quiet),
            "attack_p50_ms": statistics.median(loud), "attack_p99_ms": pct(loud, 0.99), "attack_max_ms": max(loud),
            "attack_requests": sent[0], "probes": len(loud)}


def wrk_get(server, known_id, connections=32):
    body = json.dumps({"query": "query ($id: ID!) { getTrainer(id: $id) { id firstName lastName age specialty } }",
                       "variables": {"id": known_id}})
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--latency",
         "-s", os.path.join(ROOT, "bench", "post.lua"), server.url],
        env={**os.environ, "BODY": body, "KEY": KEY}, capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT requests=(\d+) seconds=([\d.]+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)", out)
    if not m or int(m.group(5)):
        raise SystemExit(f"abuse: wrk failed:\n{out}")
    return int(m.group(1)) / float(m.group(2))


def start(binary, data_dir):
    return Server([binary, "--data-dir", data_dir, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY])


def main():
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run([TRAINERS, "--data-dir", data, "import", "--generate", "1000"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = start(TRAINERS, data)
        try:
            page = json.loads(raw_post(server.url, gql("{ allTrainers(limit: 1) { items { id } } }"))[1])
            known = page["data"]["allTrainers"]["items"][0]["id"]
            if os.environ.get("ONLY_GET"):
                raise KeyboardInterrupt
            results["abusive"] = abusive_rows(server)
            q, _ = aliases_under_a_page(1024 * 1024 - 200)
            log("getTrainer latency while 8 clients send the 1 MiB alias query")
            results["under_attack"] = latency_under_attack(server, known, gql(q))
            log(results["under_attack"])
            results["peak_rss_mb"] = server.peak_rss_mb()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
        if BEFORE_BIN:
            log("getTrainer @32: before (", BEFORE_BIN, ") and after, interleaved, 3 rounds")
            before_rps, after_rps = [], []
            for _ in range(3):
                for binary, into in ((BEFORE_BIN, before_rps), (TRAINERS, after_rps)):
                    srv = start(binary, data)
                    try:
                        wrk_get(srv, known)  # warm-up (parse cache, page cache)
                        into.append(wrk_get(srv, known))
                    finally:
                        srv.stop()
            results["get_at_32"] = {"before_rps": before_rps, "after_rps": after_rps,
                                    "ratio_of_medians": statistics.median(after_rps) / statistics.median(before_rps)}
            log(results["get_at_32"])
    if os.environ.get("ONLY_GET"):
        return
    with open(OUT + ".json", "w") as f:
        json.dump(results, f, indent=2)
    lines = ["| abusive request | what it gets now | server CPU (ms) | time to answer (ms) | server peak RSS after (MB) |",
             "| --- | --- | ---: | ---: | ---: |"]
    for r in results["abusive"]:
        answer = r["answer"].replace("|", "\\|")
        lines.append(f"| {r['request']} | {answer} | {r['server_cpu_ms']:,.1f} | {r['wall_ms']:,.1f} | {r['peak_rss_mb']:.1f} |")
    ua = results["under_attack"]
    lines += ["", "| getTrainer, one client | p50 ms | p99 ms | max ms |", "| --- | ---: | ---: | ---: |",
              f"| alone | {ua['quiet_p50_ms']:.2f} | {ua['quiet_p99_ms']:.2f} | {ua['quiet_max_ms']:.2f} |",
              f"| while 8 clients send the 1 MiB alias query ({ua['attack_requests']:,} sent) | "
              f"{ua['attack_p50_ms']:.2f} | {ua['attack_p99_ms']:.2f} | {ua['attack_max_ms']:.2f} |"]
    if "get_at_32" in results:
        g = results["get_at_32"]
        lines += ["", f"getTrainer @32, req/s, 3 interleaved rounds of {SECONDS} s: before "
                  f"{', '.join(f'{x:,.0f}' for x in g['before_rps'])}; after "
                  f"{', '.join(f'{x:,.0f}' for x in g['after_rps'])}; after/before (medians) "
                  f"**{g['ratio_of_medians']:.3f}**."]
    with open(OUT + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
