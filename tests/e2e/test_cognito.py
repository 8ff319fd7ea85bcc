"""Accounts end to end with a real token issuer: moto's Cognito (moto_server, cognito-idp).

boto3 makes a user pool, an app client without a secret, the group Admins and three users
(jane, joe, and ann in Admins); `initiate_auth` (USER_PASSWORD_AUTH) gives their access and ID
tokens, which `trainers serve --auth-issuer … --auth-jwks-url …` checks against moto's keys.

moto 5.2.5 puts the AWS form in `iss` (`https://cognito-idp.us-east-1.amazonaws.com/<pool id>`)
but serves the pool's keys at `<moto>/<pool id>/.well-known/jwks.json`, hence `--auth-jwks-url`.
Every moto pool signs with the same key (`kid` "dummy"), so a token of another pool has a valid
signature: only its `iss` tells it apart.

Run: `.venv/bin/pytest tests/e2e` after `cargo build -p trainers-cli` (or set TRAINERS_BIN).
"""

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import AppSyncJWTAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("TRAINERS_BIN", ROOT / "target" / "debug" / "trainers"))
KEY = "da2-e2ecognitotestkey0000000"
PASSWORD = "Pass-word-1!"
FIELDS = "id firstName lastName age owner version"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def claims(token: str) -> dict:
    """The payload of a JWT, not verified."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto_server (scripts/moto-server.py, as the DynamoDB tests run it) on a free port."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "moto-server.py"), "-H", "127.0.0.1", "-p",
         str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        stop(process)
        log.close()


class Pool:
    """A moto user pool with its app client, its group Admins and signed-in users."""

    def __init__(self, moto: str, name: str, users: dict):
        self.idp = boto3.client(
            "cognito-idp", region_name=REGION, endpoint_url=moto,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        self.id = self.idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
        self.client_id = self.idp.create_user_pool_client(
            UserPoolId=self.id, ClientName=f"{name}-web", GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                               "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        self.idp.create_group(UserPoolId=self.id, GroupName="Admins")
        self.jwks_url = f"{moto}/{self.id}/.well-known/jwks.json"
        self.tokens = {}
        for username, groups in users.items():
            self.idp.admin_create_user(
                UserPoolId=self.id, Username=username, TemporaryPassword="Temp-pass-1!",
                MessageAction="SUPPRESS",
            )
            self.idp.admin_set_user_password(
                UserPoolId=self.id, Username=username, Password=PASSWORD, Permanent=True,
            )
            for group in groups:
                self.idp.admin_add_user_to_group(
                    UserPoolId=self.id, Username=username, GroupName=group,
                )
            self.tokens[username] = self.idp.initiate_auth(
                ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
            )["AuthenticationResult"]

    def access(self, username: str) -> str:
        return self.tokens[username]["AccessToken"]

    def id_token(self, username: str) -> str:
        return self.tokens[username]["IdToken"]

    def sub(self, username: str) -> str:
        return claims(self.access(username))["sub"]

    @property
    def issuer(self) -> str:
        """What moto writes in `iss`, used as is for --auth-issuer."""
        return claims(self.access(next(iter(self.tokens))))["iss"]


@pytest.fixture(scope="module")
def pool(moto):
    return Pool(moto, "trainers", {"jane": [], "joe": [], "ann": ["Admins"]})


@pytest.fixture(scope="module")
def other_pool(moto):
    return Pool(moto, "elsewhere", {"jane": []})


class Server:
    """`trainers serve` trusting the pool's tokens, on a free port and a fresh data directory."""

    def __init__(self, data_dir: Path, pool: Pool):
        self.log = open(data_dir / "server.log", "wb")
        self.process = subprocess.Popen(
            [str(BINARY), "serve", "--addr", "127.0.0.1:0", "--api-key", KEY,
             "--data-dir", str(data_dir / "data"),
             "--auth-issuer", pool.issuer, "--auth-client-id", pool.client_id,
             "--auth-jwks-url", pool.jwks_url, "--admin-group", "Admins"],
            stdout=subprocess.PIPE, stderr=self.log,
        )
        self.addr = self._wait_for_address()
        self._wait_until_ready()

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

    def _wait_until_ready(self):
        """/readyz is 503 until the issuer's keys were fetched."""
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{self.addr}/readyz", timeout=2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("trainers serve never got ready (the issuer's keys?)")
                time.sleep(0.1)

    def stop(self):
        stop(self.process)
        self.log.close()

    def post(self, query: str, variables=None, token=None, key=None):
        """(status, body, x-amzn-ErrorType) of a GraphQL request over HTTP."""
        headers = {"content-type": "application/json"}
        if token is not None:
            headers["authorization"] = token
        if key is not None:
            headers["x-api-key"] = key
        request = urllib.request.Request(
            f"http://{self.addr}/graphql", method="POST", headers=headers,
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response), response.headers.get(
                    "x-amzn-ErrorType")
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.load(error), error.headers.get("x-amzn-ErrorType")

    def create(self, first_name: str, **credentials):
        return self.post(
            "mutation ($f: String!) { createTrainer(firstName: $f, lastName: \"Lovelace\","
            f" age: 36) {{ {FIELDS} }} }}",
            {"f": first_name}, **credentials,
        )

    def update(self, trainer_id: str, age: int, **credentials):
        return self.post(
            f"mutation ($id: ID!, $age: Int) {{ updateTrainers(id: $id, age: $age) {{ {FIELDS} }} }}",
            {"id": trainer_id, "age": age}, **credentials,
        )

    def delete(self, trainer_id: str, **credentials):
        return self.post(
            f"mutation ($id: ID!) {{ deleteTrainer(id: $id) {{ {FIELDS} }} }}",
            {"id": trainer_id}, **credentials,
        )

    def get(self, trainer_id: str, **credentials):
        status, body, _ = self.post(
            f"query ($id: ID!) {{ getTrainer(id: $id) {{ {FIELDS} }} }}",
            {"id": trainer_id}, **credentials,
        )
        assert status == 200 and "errors" not in body, body
        return body["data"]["getTrainer"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, pool):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: run `cargo build -p trainers-cli` first")
    server = Server(tmp_path_factory.mktemp("trainers"), pool)
    yield server
    server.stop()


def created(answer) -> dict:
    status, body, _ = answer
    assert status == 200 and "errors" not in body, body
    return body["data"]["createTrainer"]


def assert_unauthorized(answer, field: str):
    status, body, _ = answer
    assert status == 200, body
    assert body["data"] == {field: None}, body
    assert len(body["errors"]) == 1, body
    assert body["errors"][0]["errorType"] == "Unauthorized", body
    assert body["errors"][0]["message"] == f"Not Authorized to access {field} on type Mutation"


def assert_401(answer):
    status, body, error_type = answer
    assert status == 401, body
    assert error_type == "UnauthorizedException", (error_type, body)
    assert body["errors"][0]["errorType"] == "UnauthorizedException", body
    return body["errors"][0]["message"]


def test_moto_issues_cognito_shaped_tokens(pool):
    access, id_token = claims(pool.access("ann")), claims(pool.id_token("ann"))
    assert pool.issuer == f"https://cognito-idp.{REGION}.amazonaws.com/{pool.id}"
    assert access["token_use"] == "access" and access["client_id"] == pool.client_id
    assert access["username"] == "ann" and access["cognito:groups"] == ["Admins"]
    assert id_token["token_use"] == "id" and id_token["aud"] == pool.client_id
    assert id_token["cognito:username"] == "ann" and id_token["iss"] == pool.issuer


def test_a_users_access_and_id_tokens_create_trainers_she_owns(server, pool):
    owner = f"{pool.sub('jane')}::jane"
    by_access = created(server.create("Ada", token=pool.access("jane")))
    assert by_access["owner"] == owner
    by_id = created(server.create("Grace", token=f"Bearer {pool.id_token('jane')}"))
    assert by_id["owner"] == owner
    assert server.get(by_id["id"], key=KEY) == by_id

    updated = server.update(by_access["id"], 37, token=pool.id_token("jane"))
    assert updated[1]["data"]["updateTrainers"]["age"] == 37, updated
    assert updated[1]["data"]["updateTrainers"]["owner"] == owner


def test_another_user_may_neither_update_nor_delete(server, pool):
    trainer = created(server.create("Ada", token=pool.access("jane")))
    assert_unauthorized(server.update(trainer["id"], 99, token=pool.access("joe")),
                        "updateTrainers")
    assert_unauthorized(server.delete(trainer["id"], token=pool.id_token("joe")), "deleteTrainer")
    assert server.get(trainer["id"], token=pool.access("joe")) == trainer


def test_an_admin_may_update_and_delete(server, pool):
    trainer = created(server.create("Ada", token=pool.access("jane")))
    status, body, _ = server.update(trainer["id"], 50, token=pool.access("ann"))
    assert status == 200 and "errors" not in body, body
    assert body["data"]["updateTrainers"]["age"] == 50
    assert body["data"]["updateTrainers"]["owner"] == trainer["owner"]
    status, body, _ = server.delete(trainer["id"], token=pool.id_token("ann"))
    assert status == 200 and "errors" not in body, body
    assert server.get(trainer["id"], key=KEY) is None


def test_the_api_key_reads_but_may_not_create(server, pool):
    trainer = created(server.create("Ada", token=pool.access("jane")))
    assert server.get(trainer["id"], key=KEY) == trainer
    assert_unauthorized(server.create("Eve", key=KEY), "createTrainer")
    assert_unauthorized(server.update(trainer["id"], 1, key=KEY), "updateTrainers")
    assert server.get(trainer["id"], key=KEY) == trainer


def test_a_tampered_token_and_another_pools_token_are_refused(server, pool, other_pool):
    header, _, signature = pool.access("joe").split(".")
    forged = claims(pool.access("joe")) | {"username": "jane", "sub": pool.sub("jane")}
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{forged_payload}.{signature}"
    assert assert_401(server.create("Mallory", token=tampered)) == "The token's signature is not valid"

    # Same key as every moto pool (so the signature verifies); another iss.
    foreign = other_pool.access("jane")
    assert claims(foreign)["iss"] != pool.issuer
    assert assert_401(server.create("Mallory", token=foreign)) == (
        "The token was not issued by the configured issuer")
    assert_401(server.create("Mallory", token=foreign, key=KEY))  # a token decides, key or not


def test_a_signed_in_subscriber_hears_the_owners_update_not_a_refused_one(server, pool):
    """gql's AppSync transport with AppSyncJWTAuthentication: joe's access token in the
    handshake's header, where the API key would go."""
    trainer = created(server.create("Ada", token=pool.access("jane")))

    async def scenario():
        auth = AppSyncJWTAuthentication(host=server.addr, jwt=pool.access("joe"))
        transport = AppSyncWebsocketsTransport(
            url=f"ws://{server.addr}/graphql/realtime", auth=auth)
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            events: asyncio.Queue = asyncio.Queue()

            async def listen():
                request = GraphQLRequest(
                    "subscription ($id: ID) { onUpdateTrainer(id: $id) { id age owner } }",
                    variable_values={"id": trainer["id"]})
                try:
                    async for data in session.subscribe(request):
                        await events.put(data["onUpdateTrainer"])
                except Exception as error:  # handed to the test, which raises it
                    await events.put(error)

            async def next_event(timeout: float = 10):
                event = await asyncio.wait_for(events.get(), timeout)
                if isinstance(event, Exception):
                    raise event
                return event

            listener = asyncio.create_task(listen())
            # gql does not tell when the subscription is acknowledged: jane updates until heard.
            for warmup_age in range(20, 120):
                await asyncio.to_thread(server.update, trainer["id"], warmup_age,
                                        token=pool.access("jane"))
                try:
                    await next_event(timeout=0.2)
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise AssertionError("the subscription never delivered an event")

            refused = await asyncio.to_thread(server.update, trainer["id"], 99,
                                              token=pool.access("joe"))
            assert_unauthorized(refused, "updateTrainers")
            await asyncio.to_thread(server.update, trainer["id"], 17, token=pool.id_token("jane"))
            while True:
                event = await next_event()
                assert event["age"] != 99, "a refused update was heard"
                if event["age"] == 17:
                    assert event == {"id": trainer["id"], "age": 17, "owner": trainer["owner"]}
                    break
            listener.cancel()

    asyncio.run(scenario())


def test_a_token_for_another_app_client_of_the_pool_is_refused(server, pool):
    other_client = pool.idp.create_user_pool_client(
        UserPoolId=pool.id, ClientName="other-app", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    tokens = pool.idp.initiate_auth(
        ClientId=other_client, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "jane", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert claims(tokens["AccessToken"])["iss"] == pool.issuer
    for token in (tokens["AccessToken"], tokens["IdToken"]):  # client_id, then aud
        assert assert_401(server.create("Mallory", token=token)) == (
            "The token was not issued to an accepted client")
