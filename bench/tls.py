#!/usr/bin/env python3
"""TLS overhead: getTrainer at 32 connections over https against plain http, on one server
serving both on the same port (`serve --tls-cert/--tls-key`), interleaved rounds in one run.
Run through bench/ops.sh (needs the release binary and wrk)."""

import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse import gql, raw_post  # noqa: E402
from bench import KEY, ROOT, TRAINERS, Server  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
GET = "query ($id: ID!) { getTrainer(id: $id) { id firstName lastName age specialty } }"


def wrk(url, known, connections=32):
    body = json.dumps({"query": GET, "variables": {"id": known}})
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--latency",
         "-s", os.path.join(ROOT, "bench", "post.lua"), url],
        env={**os.environ, "BODY": body, "KEY": KEY}, capture_output=True, text=True, check=True).stdout
    import re
    m = re.search(r"RESULT requests=(\d+) seconds=([\d.]+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)", out)
    if not m or int(m.group(5)):
        raise SystemExit(f"tls: wrk failed:\n{out}")
    return int(m.group(1)) / float(m.group(2)), int(m.group(4)) / 1000


def main():
    with tempfile.TemporaryDirectory() as tmp:
        data, certs = os.path.join(tmp, "data"), os.path.join(tmp, "tls")
        subprocess.run([TRAINERS, "tls", "create", "--dir", certs], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([TRAINERS, "--data-dir", data, "import", "--generate", "1000"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = Server([TRAINERS, "--data-dir", data, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY,
                         "--tls-cert", os.path.join(certs, "cert.pem"), "--tls-key", os.path.join(certs, "key.pem")])
        try:
            page = json.loads(raw_post(server.url, gql("{ allTrainers(limit: 1) { items { id } } }"))[1])
            known = page["data"]["allTrainers"]["items"][0]["id"]
            https = server.url.replace("http://", "https://")
            plain, tls = [], []
            for _ in range(3):
                plain.append(wrk(server.url, known))
                tls.append(wrk(https, known))
        finally:
            server.stop()
    ratio = statistics.median(r for r, _ in tls) / statistics.median(r for r, _ in plain)
    line = (f"getTrainer @32, req/s over 3 interleaved rounds of {SECONDS} s: http "
            f"{', '.join(f'{r:,.0f}' for r, _ in plain)} (p99 {statistics.median(p for _, p in plain):.2f} ms); "
            f"https {', '.join(f'{r:,.0f}' for r, _ in tls)} (p99 {statistics.median(p for _, p in tls):.2f} ms); "
            f"https/http (medians) **{ratio:.3f}**")
    print(line)
    with open(os.path.join(ROOT, "bench", "tls-results.md"), "w") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
