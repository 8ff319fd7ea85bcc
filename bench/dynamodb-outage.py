#!/usr/bin/env python3
"""How long a request takes to fail when DynamoDB stalls or is gone, and that the server heals:
`trainers serve --store dynamodb` talks to dynalite through a proxy that this script switches
between passing, stalling (connections accepted, never answered) and refusing. Run through
bench/ops.sh (it starts dynalite with scripts/dynamodb-servers.sh)."""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse import gql, raw_post  # noqa: E402
from bench import KEY, ROOT, TRAINERS, Server  # noqa: E402

UPSTREAM = os.environ["TRAINERS_TEST_DYNALITE"]
CREATE = gql('mutation { createTrainer(firstName: "Out", lastName: "Age", age: 30) { id } }')


class Proxy:
    def __init__(self):
        self.mode = "pass"
        self.writers = []
        self.loop = asyncio.new_event_loop()
        self.port = None
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader, writer):
        if self.mode == "refuse":
            writer.transport.abort()
            return
        self.writers.append(writer)
        if self.mode == "stall":
            await reader.read()  # holds the connection, forwards nothing
            return
        host, port = UPSTREAM.split("//")[1].split(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        self.writers.append(up_writer)

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    if self.mode != "pass":
                        return  # a stall or an outage begins: nothing more goes through
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def set(self, mode):
        def switch():
            self.mode = mode
            if mode != "pass":
                for w in self.writers:
                    w.transport.abort()
                self.writers.clear()
        self.loop.call_soon_threadsafe(switch)
        time.sleep(0.1)


def timed_create(url):
    started = time.perf_counter()
    status, text, _, _ = raw_post(url, CREATE, timeout=60)
    body = json.loads(text)
    errors = body.get("errors") or []
    return time.perf_counter() - started, (errors[0]["errorType"] if errors else "ok")


def readyz(url):
    root = url.rsplit("/graphql", 1)[0]
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(root + "/readyz", timeout=30) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return time.perf_counter() - started, status


def main():
    proxy = Proxy()
    endpoint = f"http://127.0.0.1:{proxy.port}"
    table = f"outage{int(time.time())}"
    subprocess.run([TRAINERS, "table", "create", "--table", table, "--endpoint-url", endpoint], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server([TRAINERS, "--data-dir", "/tmp/trainers-outage-bench", "serve", "--addr", "127.0.0.1:0",
                     "--api-key", KEY, "--store", "dynamodb", "--table", table, "--endpoint-url", endpoint])
    rows = []
    try:
        for phase in ("pass", "stall", "refuse", "pass"):
            proxy.set(phase)
            seconds, outcome = timed_create(server.url)
            ready_s, ready_status = readyz(server.url)
            rows.append((phase, seconds, outcome, ready_s, ready_status))
            print(f"{phase}: createTrainer {outcome} in {seconds * 1000:,.0f} ms; /readyz {ready_status} in "
                  f"{ready_s * 1000:,.0f} ms", file=sys.stderr)
    finally:
        server.stop()
    names = {"pass": "DynamoDB answers", "stall": "DynamoDB accepts connections and never answers",
             "refuse": "DynamoDB refuses connections"}
    lines = ["| DynamoDB | createTrainer answers | after (ms) | /readyz | after (ms) |", "| --- | --- | ---: | --- | ---: |"]
    for i, (phase, seconds, outcome, ready_s, ready_status) in enumerate(rows):
        name = names[phase] + (" again" if i == len(rows) - 1 else "")
        lines.append(f"| {name} | {outcome} | {seconds * 1000:,.0f} | {ready_status} | {ready_s * 1000:,.0f} |")
    print("\n".join(lines))
    with open(os.path.join(ROOT, "bench", "outage-results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
