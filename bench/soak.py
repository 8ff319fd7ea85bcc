#!/usr/bin/env python3
"""A soak: 60 s (SOAK_SECONDS) of mixed requests at 32 connections, 5% of them malformed, against
`trainers serve` on the embedded store; the server's RSS at the start and at the end. Run
through bench/ops.sh."""

import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse import gql, raw_post  # noqa: E402
from bench import KEY, ROOT, TRAINERS, Server  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "60"))


def rss_mb(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run([TRAINERS, "--data-dir", data, "import", "--generate", "10000"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = Server([TRAINERS, "--data-dir", data, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
        try:
            page = json.loads(raw_post(server.url, gql("{ allTrainers(limit: 1) { items { id } } }"))[1])
            known = page["data"]["allTrainers"]["items"][0]["id"]
            start = rss_mb(server)
            out = subprocess.run(
                ["wrk", "-t2", "-c32", f"-d{SECONDS}s", "--latency", "-s", os.path.join(ROOT, "bench", "soak.lua"),
                 server.url], env={**os.environ, "KEY": KEY, "ID": known}, capture_output=True, text=True,
                check=True).stdout
            end = rss_mb(server)
            peak = server.peak_rss_mb()
            alive = raw_post(server.url, gql("{ __typename }"))[0] == 200
        finally:
            server.stop()
    m = re.search(r"RESULT requests=(\d+) seconds=([\d.]+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) socket_errors=(\d+)",
                  out)
    if not m:
        raise SystemExit(f"soak: no result from wrk:\n{out}")
    requests, secs, p50, p99, non2xx, socket_errors = m.groups()
    line = (f"{int(requests):,} requests in {float(secs):.0f} s ({int(requests) / float(secs):,.0f}/s), "
            f"{int(non2xx):,} answered 4xx (the malformed ones), {socket_errors} socket errors, p50 "
            f"{int(p50) / 1000:.2f} ms, p99 {int(p99) / 1000:.2f} ms; server RSS {start:.1f} MB at the start, "
            f"{end:.1f} MB at the end (peak {peak:.1f} MB); serving afterwards: {alive}")
    print(line)
    with open(os.path.join(ROOT, "bench", "soak-results.md"), "w") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
