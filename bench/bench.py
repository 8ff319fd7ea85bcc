#!/usr/bin/env python3
"""The load benchmark of the Trainers API (standard library only; run through bench/run.sh).

Measures, in one run on this machine: req/s and p50/p99 of each scenario at 1 and 32
connections, against two references measured in the same run (a fixed-response axum server,
the single-writer fsync rate), plus import rate, startup time and peak memory on a large store.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
TRAINERS = os.path.join(RELEASE, "trainers")
KEY = "da2-benchmarkkey0000000000000"
N = int(os.environ.get("BENCH_N", "1000000"))
SMALL = 1000
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = [1, 32]


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def post(url, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json", "x-api-key": KEY})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def check(url, query, variables=None):
    out = post(url, query, variables)
    if "errors" in out:
        raise SystemExit(f"bench: scenario answers an error: {out}")
    return out


class Server:
    """A `trainers serve` (or another program) on a free port, with its start-up time."""

    def __init__(self, args, ready_probe=True, env=None):
        started = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, **(env or {})})
        line = ""
        while "listening on" not in line:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"bench: {args[0]} exited before listening")
        self.url = line.split("listening on ", 1)[1].strip()
        if ready_probe:
            while True:
                try:
                    post(self.url, "{ allTrainers(limit: 1) { nextToken } }")
                    break
                except OSError:
                    time.sleep(0.002)
        self.ready_ms = (time.perf_counter() - started) * 1000

    def peak_rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self):
        """User + system CPU time the server has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve(data_dir, env=None):
    return Server([TRAINERS, "--data-dir", data_dir, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY], env=env)


def wrk(server, query, variables, connections):
    """Runs one scenario; also returns the server's CPU time per request (microseconds)."""
    url = server.url
    cpu_before = server.cpu_seconds()
    body = json.dumps({"query": query, "variables": variables or {}})
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECONDS}s", "--latency",
         "-s", os.path.join(ROOT, "bench", "post.lua"), url],
        env={**os.environ, "BODY": body, "KEY": KEY}, capture_output=True, text=True, check=True,
    ).stdout
    m = re.search(r"RESULT requests=(\d+) seconds=([\d.]+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)", out)
    if not m:
        raise SystemExit(f"bench: no result from wrk:\n{out}")
    requests, seconds, p50, p99, errors = m.groups()
    if int(errors):
        raise SystemExit(f"bench: {errors} failed requests:\n{out}")
    cpu_us = (server.cpu_seconds() - cpu_before) * 1e6 / int(requests)
    return {"rps": int(requests) / float(seconds), "p50_ms": int(p50) / 1000, "p99_ms": int(p99) / 1000,
            "server_cpu_us_per_request": cpu_us}


def fsync_rate(directory):
    """Single-writer write + fdatasync pairs per second in `directory` (crates/bench)."""
    out = subprocess.run([os.path.join(RELEASE, "fsync-rate"), directory, "3"], capture_output=True,
                         text=True, check=True).stdout
    return float(out)


def generate(data_dir, n):
    started = time.perf_counter()
    subprocess.run([TRAINERS, "--data-dir", data_dir, "import", "--generate", str(n)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return n / (time.perf_counter() - started)


def walk(url, limit=100, stop_after=None):
    """Follows nextToken; returns the token of the page at `stop_after` items (or the last)."""
    token, seen, mark = None, 0, None
    while True:
        out = check(url, "query($t: String) { allTrainers(limit: %d, nextToken: $t) { items { id } nextToken } }" % limit,
                    {"t": token})
        page = out["data"]["allTrainers"]
        seen += len(page["items"])
        token = page["nextToken"]
        if stop_after is not None and mark is None and seen >= stop_after:
            mark = token
        if token is None:
            return seen, mark


BY_SPECIALTY = ("{ trainersBySpecialty(specialty: BODYBUILDING, limit: 20) "
                "{ items { id firstName lastName age specialty version } nextToken } }")
GET = "query($id: ID!) { getTrainer(id: $id) { id firstName lastName age specialty version } }"
LIST = "query($t: String) { allTrainers(limit: 20, nextToken: $t) { items { id firstName lastName age } nextToken } }"
CREATE = 'mutation { createTrainer(firstName: "Bench", lastName: "Mark", age: 30, specialty: BODYBUILDING) { id version } }'
UPDATE = "mutation($id: ID!) { updateTrainers(id: $id, age: 41) { id version } }"


def main():
    results = {"n": N, "seconds_per_scenario": SECONDS, "scenarios": {}, "figures": {}}
    work = tempfile.mkdtemp(prefix="trainers-bench-")
    try:
        results["figures"]["fsync_per_s_at_start"] = fsync_rate(work)
        log(f"fsync rate {results['figures']['fsync_per_s_at_start']:.0f}/s")

        fixed = Server([os.path.join(RELEASE, "fixed-response"), "127.0.0.1:0"], ready_probe=False)
        for c in CONNECTIONS:
            results["scenarios"][f"fixed_response@{c}"] = wrk(fixed, "{}", {}, c)
        fixed.stop()

        # The small store: the same deep-page measurement on 1,000 trainers.
        small = os.path.join(work, "small")
        generate(small, SMALL)
        srv = serve(small)
        _, deep_small = walk(srv.url, 100, stop_after=SMALL * 9 // 10)
        check(srv.url, LIST, {"t": deep_small})
        results["scenarios"]["list_deep_1k@32"] = wrk(srv, LIST, {"t": deep_small}, 32)
        results["scenarios"]["list_first_1k@32"] = wrk(srv, LIST, {}, 32)
        srv.stop()

        big = os.path.join(work, "big")
        results["figures"]["import_per_s"] = generate(big, N)
        log(f"import {results['figures']['import_per_s']:.0f}/s")
        srv = serve(big)
        results["figures"]["ready_ms"] = srv.ready_ms
        srv.stop()
        srv = serve(big)
        results["figures"]["ready_ms"] = min(results["figures"]["ready_ms"], srv.ready_ms)
        log(f"ready in {srv.ready_ms:.0f} ms on {N} trainers")
        started = time.perf_counter()
        seen, deep = walk(srv.url, 100, stop_after=N * 9 // 10)
        results["figures"]["walk_s"] = time.perf_counter() - started
        results["figures"]["walk_items"] = seen
        results["figures"]["peak_rss_mb_after_walk"] = srv.peak_rss_mb()
        log(f"walked {seen} in {results['figures']['walk_s']:.1f} s, peak RSS {srv.peak_rss_mb():.1f} MB")

        known = check(srv.url, "{ allTrainers(limit: 1) { items { id } } }")["data"]["allTrainers"]["items"][0]["id"]
        check(srv.url, GET, {"id": known})
        check(srv.url, LIST, {"t": deep})
        for c in CONNECTIONS:
            results["scenarios"][f"get@{c}"] = wrk(srv, GET, {"id": known}, c)
            results["scenarios"][f"list_first@{c}"] = wrk(srv, LIST, {}, c)
            results["scenarios"][f"list_deep@{c}"] = wrk(srv, LIST, {"t": deep}, c)
            results["scenarios"][f"by_specialty_first@{c}"] = wrk(srv, BY_SPECIALTY, {}, c)
        check(srv.url, CREATE)
        check(srv.url, UPDATE, {"id": known})
        # The disk's sync rate drifts on this shared machine: the reference is taken right here.
        results["figures"]["fsync_per_s"] = fsync_rate(big)
        log(f"fsync rate {results['figures']['fsync_per_s']:.0f}/s")
        for c in CONNECTIONS:
            results["scenarios"][f"create@{c}"] = wrk(srv, CREATE, {}, c)
            results["scenarios"][f"update@{c}"] = wrk(srv, UPDATE, {"id": known}, c)
        results["figures"]["peak_rss_mb"] = srv.peak_rss_mb()
        srv.stop()
        # The reference for what durability costs: the same server with syncs off.
        srv = serve(big, env={"TRAINERS_UNSAFE_NO_SYNC": "1"})
        results["scenarios"]["create_nosync@32"] = wrk(srv, CREATE, {}, 32)
        srv.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    out_dir = os.path.join(ROOT, "bench")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    subprocess.run([sys.executable, os.path.join(out_dir, "report.py")], check=True)


if __name__ == "__main__":
    main()
