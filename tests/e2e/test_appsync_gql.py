"""End to end with a real AppSync client: Python's gql, its AppSyncWebsocketsTransport and
AppSyncApiKeyAuthentication, against a real `trainers serve`. Mutations go over HTTP.

gql builds the real-time URL from the URL it is given: `https://` becomes `wss://` and
`appsync-api` becomes `appsync-realtime-api`, then it appends `?header=<base64 JSON>&payload=e30=`.
A local server has neither, so the tests pass the real-time URL itself,
`ws://127.0.0.1:PORT/graphql/realtime`, and the host `127.0.0.1:PORT` to the authentication.

Run: `.venv/bin/pytest tests/e2e` after `cargo build -p trainers-cli` (or set TRAINERS_BIN).
"""

import asyncio
import json
import os
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.exceptions import TransportQueryError, TransportServerError

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("TRAINERS_BIN", ROOT / "target" / "debug" / "trainers"))
KEY = "da2-e2etestkeyforgqlappsync000"
FIELDS = "id firstName lastName age specialty createdAt updatedAt version"
WARMUP = "Warmup"


class Server:
    """`trainers serve` on a free loopback port and a fresh data directory."""

    def __init__(self, data_dir: Path):
        self.log = open(data_dir / "server.log", "wb")
        self.process = subprocess.Popen(
            [str(BINARY), "serve", "--addr", "127.0.0.1:0", "--api-key", KEY,
             "--data-dir", str(data_dir / "data")],
            stdout=subprocess.PIPE, stderr=self.log,
        )
        self.addr = self._wait_for_address()

    def _wait_for_address(self) -> str:
        found = {}

        def read():
            for line in self.process.stdout:
                text = line.decode(errors="replace").strip()
                prefix = "Trainers API listening on http://"
                if text.startswith(prefix):
                    found["addr"] = text[len(prefix):].removesuffix("/graphql")
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=30)
        if "addr" not in found:
            self.stop()
            raise RuntimeError(f"{BINARY} did not say where it listens")
        return found["addr"]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def graphql_sync(self, query: str, variables=None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"http://{self.addr}/graphql", data=body, method="POST",
            headers={"content-type": "application/json", "x-api-key": KEY},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    async def graphql(self, query: str, variables=None) -> dict:
        return await asyncio.to_thread(self.graphql_sync, query, variables)

    async def create(self, first_name: str, specialty: str, selection: str = FIELDS) -> dict:
        answer = await self.graphql(
            "mutation ($f: String!, $s: Specialty) { createTrainer(firstName: $f, lastName: "
            f'"Lovelace", age: 36, specialty: $s) {{ {selection} }} }}',
            {"f": first_name, "s": specialty},
        )
        assert "errors" not in answer, answer
        return answer["data"]["createTrainer"]

    async def set_age(self, trainer_id: str, age: int) -> dict:
        answer = await self.graphql(
            f"mutation ($id: ID!, $age: Int) {{ updateTrainers(id: $id, age: $age) {{ {FIELDS} }} }}",
            {"id": trainer_id, "age": age},
        )
        assert "errors" not in answer, answer
        return answer["data"]["updateTrainers"]


@pytest.fixture
def server(tmp_path):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: run `cargo build -p trainers-cli` first")
    server = Server(tmp_path)
    yield server
    server.stop()


def appsync_client(server: Server, key: str = KEY) -> Client:
    auth = AppSyncApiKeyAuthentication(host=server.addr, api_key=key)
    transport = AppSyncWebsocketsTransport(
        url=f"ws://{server.addr}/graphql/realtime", auth=auth
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


class Subscription:
    """A gql subscription running in the background; its results (or its error) in a queue."""

    def __init__(self, session, query: str, variables=None):
        self.results: asyncio.Queue = asyncio.Queue()
        request = GraphQLRequest(query, variable_values=variables)
        self.task = asyncio.create_task(self._run(session, request))

    async def _run(self, session, request):
        try:
            async for data in session.subscribe(request):
                await self.results.put(data)
        except Exception as error:  # handed to the test, which raises it
            await self.results.put(error)

    async def next(self, timeout: float = 10):
        item = await asyncio.wait_for(self.results.get(), timeout)
        if isinstance(item, Exception):
            raise item
        return item

    async def listening(self, make_event):
        """Waits until the subscription delivers. gql does not tell when AppSync acknowledged a
        subscription (its `start_ack`), so this makes events until one arrives."""
        for _ in range(100):
            await make_event()
            try:
                return await self.next(timeout=0.2)
            except asyncio.TimeoutError:
                continue
        raise AssertionError("the subscription never delivered an event")

    async def next_not_warmup(self, field: str):
        while True:
            data = await self.next()
            if data[field] is None or data[field].get("firstName") != WARMUP:
                return data[field]


def test_subscriber_gets_the_created_trainer_as_selected(server):
    async def scenario():
        async with appsync_client(server) as session:
            sub = Subscription(session, f"subscription {{ onCreateTrainer {{ {FIELDS} }} }}")
            await sub.listening(lambda: server.create(WARMUP, "BODYBUILDING"))
            created = await server.create("Ada", "YOUTHFITNESS")
            assert await sub.next_not_warmup("onCreateTrainer") == created

    asyncio.run(scenario())


def test_arguments_filter_events(server):
    async def scenario():
        target = await server.create("Target", "BODYBUILDING")
        other = await server.create("Other", "BODYBUILDING")
        async with appsync_client(server) as session:
            seniors = Subscription(
                session,
                "subscription ($s: Specialty) { onCreateTrainer(specialty: $s) { id firstName specialty } }",
                {"s": "SENIORFITNESS"},
            )
            updates = Subscription(
                session,
                "subscription ($id: ID) { onUpdateTrainer(id: $id) { id age } }",
                {"id": target["id"]},
            )
            await seniors.listening(lambda: server.create(WARMUP, "SENIORFITNESS"))
            warmup_ages = iter(range(20, 100))
            await updates.listening(lambda: server.set_age(target["id"], next(warmup_ages)))

            await server.create("Bob", "BODYBUILDING")
            sue = await server.create("Sue", "SENIORFITNESS")
            event = await seniors.next_not_warmup("onCreateTrainer")
            assert event == {"id": sue["id"], "firstName": "Sue", "specialty": "SENIORFITNESS"}

            await server.set_age(other["id"], 18)
            await server.set_age(target["id"], 17)
            while True:
                event = (await updates.next())["onUpdateTrainer"]
                assert event["id"] == target["id"], "an update of another trainer came through"
                if event["age"] == 17:
                    break

    asyncio.run(scenario())


def test_unselected_non_null_field_is_an_error(server):
    async def scenario():
        async with appsync_client(server) as session:
            sub = Subscription(session, "subscription { onCreateTrainer { id firstName lastName } }")
            await sub.listening(lambda: server.create(WARMUP, "BODYBUILDING"))
            # The mutation does not select lastName, which the subscriber needs (non-null).
            await server.create("Ada", "YOUTHFITNESS", selection="id firstName")
            with pytest.raises(TransportQueryError, match="lastName"):
                while True:
                    await sub.next_not_warmup("onCreateTrainer")

    asyncio.run(scenario())


def test_bad_key_is_refused(server):
    async def scenario():
        with pytest.raises(TransportServerError, match="UnauthorizedException"):
            async with appsync_client(server, key="da2-notakey") as session:
                sub = Subscription(session, "subscription { onCreateTrainer { id } }")
                await sub.next()

    asyncio.run(scenario())
