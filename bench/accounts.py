#!/usr/bin/env python3
"""What accounts cost (issue 19, item 8), against one release `trainers serve --auth-local
--admin-group Admins --api-key KEY` on 1,000 generated trainers (run through bench/accounts.sh):

- getTrainer with the API key against getTrainer with a signed-in user's token, interleaved in
  rounds in the same run (req/s, p99, server CPU a request; the ratio of the medians, goal 0.9);
- createTrainer signed in (a durable write each);
- forged tokens sent again and again: the server CPU each refused request costs, and its answer;
- a fresh forgery on every request (bench/forged.lua), each a signature check: its CPU, and
  getTrainer with the API key while such a flood runs, against the same alone, in the same run
  (signatures are checked at most half the cores at once: the flood must leave the rest).

Tokens come from `trainers token create` (the data directory's own key, ES256). Writes
bench/accounts-results.{md,json}. Standard library only (wrk does the load, with bench/post.lua).
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import CREATE, GET, KEY, ROOT, TRAINERS, Server, generate  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = 32
SMALL = 1000
OUT = os.path.join(ROOT, "bench", "accounts-results")


def log(*args):
    print("accounts:", *args, file=sys.stderr, flush=True)


def token(data_dir, username, *groups):
    args = [TRAINERS, "--data-dir", data_dir, "token", "create", "--username", username, "--expires-in", "1h"]
    for g in groups:
        args += ["--group", g]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def headers_for(auth):
    """`auth` is ("key", KEY) or ("token", JWT)."""
    kind, value = auth
    return {"x-api-key": value} if kind == "key" else {"Authorization": f"Bearer {value}"}


def ask(url, auth, query, variables=None):
    """(HTTP status, parsed body)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json", **headers_for(auth)})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def check(url, auth, query, variables=None):
    status, out = ask(url, auth, query, variables)
    if status != 200 or "errors" in out:
        raise SystemExit(f"accounts: scenario answers HTTP {status}: {out}")
    return out


def start_wrk(server, auth, query, variables, script="post.lua", connections=CONNECTIONS):
    """A wrk run of SECONDS, started: its process (read it with `result`)."""
    kind, value = auth
    env = {k: v for k, v in os.environ.items() if k not in ("KEY", "AUTH")}
    env["BODY"] = json.dumps({"query": query, "variables": variables or {}})
    if kind == "key":
        env["KEY"] = value
    elif script == "post.lua":
        env["AUTH"] = f"Bearer {value}"
    else:
        env["AUTH"] = value
    return subprocess.Popen(
        ["wrk", "-t1" if connections < 32 else "-t2", f"-c{connections}", f"-d{SECONDS}s", "--latency",
         "-s", os.path.join(ROOT, "bench", script), server.url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wrk(server, auth, query, variables, refused=False, script="post.lua", connections=CONNECTIONS):
    """One run; every answer must be 2xx (or, with `refused`, none)."""
    cpu_before = server.cpu_seconds()
    row = result(start_wrk(server, auth, query, variables, script, connections), refused)
    row["server_cpu_us_per_request"] = (server.cpu_seconds() - cpu_before) * 1e6 / row["requests"]
    return row


def result(proc, refused=False):
    """The figures of a finished wrk run."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"accounts: wrk failed: {err}")
    m = re.search(r"RESULT requests=(\d+) seconds=([\d.]+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)", out)
    if not m:
        raise SystemExit(f"accounts: no result from wrk:\n{out}")
    requests, seconds, p50, p99, errors = (int(m[1]), float(m[2]), int(m[3]), int(m[4]), int(m[5]))
    # wrk counts non-2xx answers (and socket errors) as errors: a refused run must have nothing
    # else, any other run none.
    if (errors != requests) if refused else errors:
        raise SystemExit(f"accounts: {errors} of {requests} requests not as expected:\n{out}")
    return {"rps": requests / seconds, "requests": requests, "p50_ms": p50 / 1000, "p99_ms": p99 / 1000}


def median(rows, field):
    return statistics.median(r[field] for r in rows)


def main():
    results = {"seconds_per_run": SECONDS, "connections": CONNECTIONS, "rounds": ROUNDS, "trainers": SMALL}
    with tempfile.TemporaryDirectory() as work:
        data_dir = os.path.join(work, "data")
        other_dir = os.path.join(work, "other")
        generate(data_dir, SMALL)
        jane = token(data_dir, "jane")
        # Signed by another data directory's key: a well-formed ES256 token of a kid the server
        # does not know.
        stranger = token(other_dir, "jane")
        # The server's own kid and claims, the signature of another token: the signature check
        # itself fails (the costlier refusal).
        bad_signature = jane.rsplit(".", 1)[0] + "." + stranger.rsplit(".", 1)[1]
        server = Server([TRAINERS, "--data-dir", data_dir, "serve", "--addr", "127.0.0.1:0",
                         "--api-key", KEY, "--auth-local", "--admin-group", "Admins"])
        try:
            url = server.url
            key, signed = ("key", KEY), ("token", jane)
            known = check(url, key, "{ allTrainers(limit: 1) { items { id } } }")["data"]["allTrainers"]["items"][0]["id"]
            check(url, key, GET, {"id": known})
            check(url, signed, GET, {"id": known})
            created = check(url, signed, CREATE.replace("{ id version }", "{ id version owner }"))
            results["created_owner"] = created["data"]["createTrainer"]["owner"]
            # What a forged token gets (and that the API key cannot create: accounts are on).
            forged = {}
            for name, value in (("signed by another key (unknown kid)", stranger),
                                ("the server's kid, a bad signature", bad_signature)):
                status, out = ask(url, ("token", value), GET, {"id": known})
                first = (out or {}).get("errors", [{}])[0]
                forged[name] = f"HTTP {status} {first.get('errorType')}: {first.get('message', '')[:60]}"
                if status != 401:
                    raise SystemExit(f"accounts: a forged token got {forged[name]}")
            # One forgery as bench/forged.lua makes them (characters 20 to 27 of the signature
            # replaced): what each of the flood gets.
            head, sig = jane.rsplit(".", 1)
            status, out = ask(url, ("token", f"{head}.{sig[:19]}AAAAAAAA{sig[27:]}"), GET, {"id": known})
            first = (out or {}).get("errors", [{}])[0]
            fresh_answer = f"HTTP {status} {first.get('errorType')}: {first.get('message', '')[:60]}"
            if status != 401:
                raise SystemExit(f"accounts: a fresh forgery got {fresh_answer}")
            results["fresh_forgery_answer"] = fresh_answer
            status, out = ask(url, key, CREATE)
            results["create_with_api_key"] = f"HTTP {status} {out['errors'][0].get('errorType')}" if out.get("errors") else f"HTTP {status}"
            log("forged:", forged, "create with the API key:", results["create_with_api_key"])

            get_key, get_token, creates = [], [], []
            refused = {name: [] for name in forged}
            for n in range(ROUNDS):
                # Alternate which goes first, so neither always runs on a warmer (or quieter) machine.
                pair = [("key", key, get_key), ("token", signed, get_token)]
                for kind, auth, rows in (pair if n % 2 == 0 else pair[::-1]):
                    rows.append(wrk(server, auth, GET, {"id": known}))
                    log(f"round {n + 1} getTrainer with the {kind}: {rows[-1]}")
            for n in range(ROUNDS):
                for name, value in (("signed by another key (unknown kid)", stranger),
                                    ("the server's kid, a bad signature", bad_signature)):
                    refused[name].append(wrk(server, ("token", value), GET, {"id": known}, refused=True))
                    log(f"round {n + 1} forged, {name}: {refused[name][-1]}")
                creates.append(wrk(server, signed, CREATE, {}))
                log(f"round {n + 1} createTrainer signed in: {creates[-1]}")
            # A fresh forgery on every request: a signature check each.
            fresh, alone, during, flood = [], [], [], []
            for n in range(ROUNDS):
                fresh.append(wrk(server, ("token", jane), GET, {"id": known}, refused=True, script="forged.lua"))
                log(f"round {n + 1} fresh forgeries: {fresh[-1]}")
                # The API key alone, then beside a flood of fresh forgeries (16 connections each).
                alone.append(wrk(server, key, GET, {"id": known}, connections=16))
                flooding = start_wrk(server, ("token", jane), GET, {"id": known}, "forged.lua", 16)
                during.append(wrk(server, key, GET, {"id": known}, connections=16))
                flood.append(result(flooding, refused=True))
                log(f"round {n + 1} API key alone {alone[-1]['rps']:.0f}/s, during a flood {during[-1]['rps']:.0f}/s "
                    f"(flood {flood[-1]['rps']:.0f}/s)")
            results["peak_rss_mb"] = server.peak_rss_mb()
        finally:
            server.stop()

    ratio = median(get_token, "rps") / median(get_key, "rps")
    results.update({
        "get_api_key": get_key, "get_token": get_token, "create_token": creates,
        "forged": {name: {"answer": forged[name], "runs": rows} for name, rows in refused.items()},
        "fresh_forgeries": fresh, "api_key_alone": alone, "api_key_during_flood": during, "flood": flood,
        "ratio_during_flood": median(during, "rps") / median(alone, "rps"),
        "ratio_token_over_key": ratio, "goal": 0.9, "met": ratio >= 0.9,
    })
    with open(OUT + ".json", "w") as f:
        json.dump(results, f, indent=2)

    def rounds(rows, field, fmt):
        return ", ".join(fmt.format(r[field]) for r in rows)

    lines = [f"One `trainers serve --auth-local --admin-group Admins --api-key KEY` on {SMALL:,} generated "
             f"trainers; wrk, {CONNECTIONS} connections, {SECONDS} s a run, {ROUNDS} rounds (medians in bold).",
             "",
             "| scenario | req/s (each round) | median req/s | p99 ms (median) | server CPU µs/request (median) |",
             "| --- | --- | ---: | ---: | ---: |"]
    for name, rows in (("getTrainer, API key", get_key), ("getTrainer, signed in (token)", get_token),
                       ("createTrainer, signed in (durable)", creates)):
        lines.append(f"| {name} | {rounds(rows, 'rps', '{:,.0f}')} | **{median(rows, 'rps'):,.0f}** | "
                     f"{median(rows, 'p99_ms'):.2f} | {median(rows, 'server_cpu_us_per_request'):.0f} |")
    lines += ["", f"getTrainer signed in / with the API key (medians): **{ratio:.3f}** (goal >= 0.9: "
              f"{'met' if ratio >= 0.9 else 'not met'}). The trainer created is owned by "
              f"`{results['created_owner']}`; createTrainer with the API key: {results['create_with_api_key']}.",
              "", "| forged token | answer | refused req/s (median) | server CPU µs per refused request (each round; median) |",
              "| --- | --- | ---: | --- |"]
    for name, rows in refused.items():
        lines.append(f"| {name} | {forged[name]} | {median(rows, 'rps'):,.0f} | "
                     f"{rounds(rows, 'server_cpu_us_per_request', '{:.0f}')}; **{median(rows, 'server_cpu_us_per_request'):.0f}** |")
    lines.append(f"| a fresh forgery on every request (bench/forged.lua), the server's kid | {results['fresh_forgery_answer']} | "
                 f"{median(fresh, 'rps'):,.0f} | "
                 f"{rounds(fresh, 'server_cpu_us_per_request', '{:.0f}')}; **{median(fresh, 'server_cpu_us_per_request'):.0f}** |")
    flood_ratio = results["ratio_during_flood"]
    lines += ["", f"getTrainer with the API key (16 connections) beside a flood of fresh forgeries (16 more connections), "
              f"against the same alone: {rounds(during, 'rps', '{:,.0f}')} req/s against {rounds(alone, 'rps', '{:,.0f}')}; "
              f"**{flood_ratio:.2f}** of its rate kept (medians), while the flood was refused at "
              f"{median(flood, 'rps'):,.0f}/s (signatures checked at most half the cores at once)."]
    lines += ["", f"Server peak RSS over the run: {results['peak_rss_mb']:.1f} MB."]
    with open(OUT + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
