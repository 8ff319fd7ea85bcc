#!/usr/bin/env python3
"""Filters, counts and sorted lists at 1,000,000 trainers (contract, section 10), on the embedded
store: trainersBySpecialty's first page and a page at 90% of its specialty against allTrainers'
first page in the same run, countTrainers with and without a filter, and allTrainers(filter:)
pages from a selective filter to one that matches nothing (a full read). Then, on dynalite, the
items a filtered scan examines per second. Run through bench/filters.sh; writes
bench/filters-results.md and bench/filters-results.json.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the load benchmark's helpers: a server, wrk, import)

N = bench.N
BY_SPECIALTY = """query($t: String) { trainersBySpecialty(specialty: YOUTHFITNESS, limit: 20, nextToken: $t) {
  items { id firstName lastName age } nextToken } }"""
FILTERED = """query($f: ModelTrainersFilterInput, $t: String) { allTrainers(filter: $f, limit: 20, nextToken: $t) {
  items { id firstName lastName age } nextToken } }"""
COUNT = "query($f: ModelTrainersFilterInput) { countTrainers(filter: $f) }"


def timed(url, query, variables, rounds=5):
    """Median and worst seconds of `rounds` sequential requests, and the last answer."""
    times, out = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        out = bench.check(url, query, variables)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"median_ms": times[len(times) // 2] * 1000, "max_ms": times[-1] * 1000}, out


def deep_token(url, query, field, fraction, limit=100):
    """The nextToken at `fraction` of a walk of `field`, and the walk's length."""
    big = query.replace("limit: 20", f"limit: {limit}")
    token, seen, pages = None, 0, []
    while True:
        page = bench.check(url, big, {"t": token})["data"][field]
        seen += len(page["items"])
        token = page["nextToken"]
        pages.append((seen, token))
        if token is None:
            break
    want = seen * fraction
    mark = next(t for s, t in pages if s >= want)
    return mark, seen


def embedded(results):
    with tempfile.TemporaryDirectory(prefix="trainers-filters-") as d:
        bench.log(f"importing {N:,} generated trainers")
        results["import_per_s"] = bench.generate(d, N)
        server = bench.serve(d)
        url = server.url
        try:
            s = results["scenarios"]
            bench.log("walking trainersBySpecialty(YOUTHFITNESS) to 90%")
            deep, specialty_total = deep_token(url, BY_SPECIALTY, "trainersBySpecialty", 0.9)
            results["youthfitness_trainers"] = specialty_total
            list_query = bench.LIST
            s["allTrainers first page @32"] = bench.wrk(server, list_query, {}, 32)
            s["trainersBySpecialty first page @32"] = bench.wrk(server, BY_SPECIALTY, {}, 32)
            s["trainersBySpecialty page at 90% @32"] = bench.wrk(server, BY_SPECIALTY, {"t": deep}, 32)
            for name, f in [
                ("age = 50 (about 1.2%)", {"age": {"eq": 50}}),
                ("age = 50 and lastName = Lee (about 0.15%)", {"age": {"eq": 50}, "lastName": {"eq": "Lee"}}),
            ]:
                s[f"allTrainers(filter: {name}) first page @32"] = bench.wrk(server, FILTERED, {"f": f}, 32)
            c = results["sequential"]
            c["countTrainers, no filter"], out = timed(url, COUNT, {})
            results["count_all"] = out["data"]["countTrainers"]
            c["countTrainers(filter: age between 30 and 39)"], out = timed(
                url, COUNT, {"f": {"age": {"between": [30, 39]}}})
            results["count_filtered"] = out["data"]["countTrainers"]
            nothing = {"firstName": {"eq": "nobody"}}
            c["allTrainers(filter matching nothing): one page reads every trainer"], out = timed(
                url, FILTERED, {"f": nothing}, rounds=3)
            assert out["data"]["allTrainers"]["items"] == []
            results["peak_rss_mb"] = server.peak_rss_mb()
        finally:
            server.stop()


def dynalite(results):
    """Items examined per second by a filtered scan on dynalite (what a filtered page costs on
    DynamoDB is its table's size over this rate, for a filter that matches little)."""
    endpoint = os.environ.get("TRAINERS_TEST_DYNALITE")
    if not endpoint:
        results["dynalite"] = "skipped: run through bench/filters.sh, which starts dynalite"
        return
    n = int(os.environ.get("BENCH_DYNALITE_N", "50000"))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1"}
    table = f"bench{int(time.time())}"
    where = ["--table", table, "--endpoint-url", endpoint]
    common = ["--store", "dynamodb", *where]
    subprocess.run([bench.TRAINERS, "table", "create", *where], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bench.log(f"importing {n:,} trainers into dynalite")
    subprocess.run([bench.TRAINERS, "import", "--generate", str(n), *common], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = bench.Server([bench.TRAINERS, "serve", "--addr", "127.0.0.1:0", "--api-key", bench.KEY,
                           "--token-secret", "bench", *common])
    try:
        t, out = timed(server.url, FILTERED, {"f": {"firstName": {"eq": "nobody"}}}, rounds=3)
        assert out["data"]["allTrainers"]["items"] == []
        per_s = n / (t["median_ms"] / 1000)
        results["dynalite"] = {
            "items": n, "scan_ms": t["median_ms"], "items_examined_per_s": per_s,
            "a page of a filter matching nothing at 1,000,000 items (s, extrapolated)": 1_000_000 / per_s,
        }
    finally:
        server.stop()


def report(results):
    lines = [f"# Filters, counts, sorted lists ({N:,} trainers, embedded store)", ""]
    lines += ["| scenario | req/s | p50 / p99 ms |", "| --- | ---: | ---: |"]
    for name, r in results["scenarios"].items():
        lines.append(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |")
    first = results["scenarios"]["trainersBySpecialty first page @32"]["rps"]
    deep = results["scenarios"]["trainersBySpecialty page at 90% @32"]["rps"]
    plain = results["scenarios"]["allTrainers first page @32"]["rps"]
    lines += ["", "| one request at a time | median ms | worst ms |", "| --- | ---: | ---: |"]
    for name, r in results["sequential"].items():
        lines.append(f"| {name} | {r['median_ms']:,.1f} | {r['max_ms']:,.1f} |")
    lines += ["", f"trainersBySpecialty: page at 90% / first page **{deep / first:.2f}**; first page / "
              f"allTrainers' first page **{first / plain:.2f}** (same run; {results['youthfitness_trainers']:,} "
              f"YOUTHFITNESS trainers). countTrainers answered {results['count_all']:,} and "
              f"{results['count_filtered']:,}. Peak server RSS {results['peak_rss_mb']:.1f} MB."]
    d = results.get("dynalite")
    if isinstance(d, dict):
        lines += ["", f"dynalite: a filtered scan examined **{d['items_examined_per_s']:,.0f} items/s** "
                  f"({d['items']:,} items in {d['scan_ms']:,.0f} ms); at 1,000,000 items a page of a filter "
                  f"that matches nothing would take about "
                  f"{d['a page of a filter matching nothing at 1,000,000 items (s, extrapolated)']:,.1f} s "
                  "(extrapolated from this rate; the request deadline is 30 s)."]
    else:
        lines += ["", f"dynalite: {d}"]
    return "\n".join(lines) + "\n"


def main():
    results = {"n": N, "scenarios": {}, "sequential": {}}
    embedded(results)
    dynalite(results)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "filters-results.json"), "w") as f:
        json.dump(results, f, indent=2)
    text = report(results)
    with open(os.path.join(here, "filters-results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
