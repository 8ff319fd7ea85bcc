#!/usr/bin/env python3
"""Two builds of `trainers` side by side, in one run (bench/compare.sh): the same scenarios on the
same data, the builds' runs interleaved round by round (alternating which goes first), so that
the ratio after/before is measured on the same machine at the same time.

Scenarios, each at 32 connections with wrk: getTrainer; allTrainers(limit: 20), its first page
and a page at 90% depth; a filtered page (section 10's filters: `age` and `lastName`);
trainersBySpecialty; createTrainer (durable). Then the real-time fan-out: 1,000 AppSync
subscribers, a burst of 200 mutations (crates/realtime-bench), events delivered per second.

    python3 bench/compare.py BEFORE_BINARY AFTER_BINARY

Writes bench/compare-results.{md,json}. BENCH_N (100,000 trainers), BENCH_ROUNDS (3) and
BENCH_SECONDS (5) change the size and length.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import CREATE, GET, KEY, ROOT, Server, check  # noqa: E402

N = int(os.environ.get("BENCH_N", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
OUT = os.path.join(ROOT, "bench", "compare-results")
REALTIME_BENCH = os.path.join(ROOT, "target", "release", "realtime-bench")

PAGE = ("query($t: String) { allTrainers(limit: 20, nextToken: $t) "
        "{ items { id firstName lastName age specialty version } nextToken } }")
FILTERED = ("query($t: String) { allTrainers(limit: 20, nextToken: $t, filter: "
            "{ age: { between: [30, 50] }, lastName: { beginsWith: \"L\" } }) "
            "{ items { id firstName lastName age } nextToken } }")
BY_SPECIALTY = ("{ trainersBySpecialty(specialty: BODYBUILDING, limit: 20) "
                "{ items { id firstName lastName age } nextToken } }")


def log(*args):
    print("compare:", *args, file=sys.stderr, flush=True)


def serve(binary, data_dir):
    return Server([binary, "--data-dir", data_dir, "serve", "--addr", "127.0.0.1:0", "--api-key", KEY])


def token_at_depth(url, fraction):
    """The nextToken of the page that starts `fraction` of the way through the store."""
    token, seen = None, 0
    while seen < N * fraction:
        page = check(url, "query($t: String) { allTrainers(limit: 100, nextToken: $t) { items { id } nextToken } }",
                     {"t": token})["data"]["allTrainers"]
        token, seen = page["nextToken"], seen + len(page["items"])
    return token


def fan_out(binary):
    out = subprocess.run([REALTIME_BENCH, "--server", binary, "--subscribers", "1000", "--mutations", "200",
                          "--concurrency", "4"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"first mutation sent to last event received: [\d.]+ s \(([\d.]+) events/s\)", out)
    if not m:
        raise SystemExit(f"compare: no fan-out figure from realtime-bench:\n{out}")
    return {"rps": float(m[1])}


def main():
    before, after = sys.argv[1], sys.argv[2]
    builds = {"before": before, "after": after}
    rows = {}
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        bench.generate(data_dir, N)
        s = serve(after, data_dir)
        known = check(s.url, "{ allTrainers(limit: 1) { items { id } } }")["data"]["allTrainers"]["items"][0]["id"]
        deep = token_at_depth(s.url, 0.9)
        filtered_token = check(s.url, FILTERED)["data"]["allTrainers"]["nextToken"]
        s.stop()
        scenarios = [
            ("getTrainer", GET, {"id": known}),
            ("allTrainers(limit: 20), first page", PAGE, {}),
            ("allTrainers(limit: 20), page at 90% depth", PAGE, {"t": deep}),
            ("allTrainers, filtered page (age, lastName), second page", FILTERED, {"t": filtered_token}),
            ("trainersBySpecialty(limit: 20)", BY_SPECIALTY, {}),
            ("createTrainer (durable)", CREATE, {}),
        ]
        for n in range(ROUNDS):
            order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
            for name, query, variables in scenarios:
                for build in order:
                    s = serve(builds[build], data_dir)
                    rows.setdefault(name, {}).setdefault(build, []).append(bench.wrk(s, query, variables, 32))
                    s.stop()
                    log(f"round {n + 1} {name} {build}: {rows[name][build][-1]['rps']:,.0f}/s")
            for build in order:
                rows.setdefault("fan-out, events delivered per second (1,000 subscribers)", {}) \
                    .setdefault(build, []).append(fan_out(builds[build]))
                log(f"round {n + 1} fan-out {build}: {rows['fan-out, events delivered per second (1,000 subscribers)'][build][-1]['rps']:,.0f}/s")

    def med(runs, field):
        values = [r[field] for r in runs if field in r]
        return statistics.median(values) if values else float("nan")

    lines = [f"Two builds on the same {N:,} trainers, interleaved: {ROUNDS} rounds, {bench.SECONDS} s a run, wrk at 32 "
             "connections (medians; server CPU from /proc).", "",
             "| scenario | before req/s | after req/s | after/before | before CPU µs/req | after CPU µs/req |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, by_build in rows.items():
        b, a = med(by_build["before"], "rps"), med(by_build["after"], "rps")
        cpu = [med(by_build[build], "server_cpu_us_per_request") for build in ("before", "after")]
        cpu = ["-" if c != c else f"{c:.0f}" for c in cpu]  # NaN: not measured (the fan-out)
        lines.append(f"| {name} | {b:,.0f} | {a:,.0f} | **{a / b:.2f}** | {cpu[0]} | {cpu[1]} |")
    with open(OUT + ".json", "w") as f:
        json.dump({"n": N, "rounds": ROUNDS, "seconds": bench.SECONDS, "before": before, "after": after,
                   "rows": rows}, f, indent=2)
    with open(OUT + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
