#!/usr/bin/env python3
"""Measures the Lambda asset's cold start locally: from process start to its first answer.

Runs target/lambda/bootstrap/bootstrap as Lambda would, against a small stand-in for the Lambda
runtime API on loopback (AWS_LAMBDA_RUNTIME_API), with its store on a fresh table of a local
DynamoDB-compatible server. Each run hands the new process one AppSync event (createTrainer, so
a real DynamoDB write) and times until the process posts the answer. Run it under
scripts/dynamodb-servers.sh, which starts dynalite:

    scripts/dynamodb-servers.sh .venv/bin/python scripts/lambda-cold-start.py [RUNS]

It prints one line per run and the median. (Lambda's own cold start adds the sandbox and the
download of the package; this is the part the binary decides.)
"""

from __future__ import annotations

import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
BOOTSTRAP = REPO / "target" / "lambda" / "bootstrap" / "bootstrap"

EVENT = {
    "arguments": {"firstName": "Ann", "lastName": "Lee", "age": 40, "specialty": "BODYBUILDING"},
    "identity": None,
    "source": None,
    "info": {
        "fieldName": "createTrainer",
        "parentTypeName": "Mutation",
        "variables": {},
        "selectionSetList": ["id", "firstName"],
        "selectionSetGraphQL": "{\n  id\n  firstName\n}",
    },
    "stash": {},
}


class Runtime(http.server.BaseHTTPRequestHandler):
    """The runtime API: one event per `next`, and the answer recorded with its time."""

    served = threading.Event()
    answered = threading.Event()
    answer: dict = {}
    answered_at = 0.0

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        if Runtime.served.is_set():
            # A second `next`: hold it until the process is killed at the end of the run.
            time.sleep(5)
            return
        Runtime.served.set()
        body = json.dumps(EVENT).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
        self.send_header(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:trainers",
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        Runtime.answered_at = time.perf_counter()
        try:
            Runtime.answer = {"path": self.path, "body": json.loads(body or b"null")}
        except ValueError:
            Runtime.answer = {"path": self.path, "body": body.decode(errors="replace")}
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        Runtime.answered.set()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    endpoint = os.environ.get("TRAINERS_TEST_DYNALITE")
    if not endpoint:
        print("TRAINERS_TEST_DYNALITE is not set: run under scripts/dynamodb-servers.sh", file=sys.stderr)
        return 2
    if not BOOTSTRAP.exists():
        print(f"{BOOTSTRAP} is missing: run scripts/build-lambda.sh", file=sys.stderr)
        return 2

    table = f"trainers-cold-start-{os.getpid()}"
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "specialty", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "bySpecialty",
                "KeySchema": [
                    {"AttributeName": "specialty", "KeyType": "HASH"},
                    {"AttributeName": "id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": "trainers",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": endpoint,
        "TABLE_NAME": table,
    }
    times = []
    try:
        for i in range(runs):
            # A runtime API of its own per run, so that nothing of the last process reaches it.
            Runtime.served = threading.Event()
            Runtime.answered = threading.Event()
            Runtime.answer = {}
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
            start = time.perf_counter()
            proc = subprocess.Popen(
                [str(BOOTSTRAP)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            try:
                if not Runtime.answered.wait(30):
                    print("no answer within 30 s", file=sys.stderr)
                    return 1
            finally:
                proc.kill()
                _, err = proc.communicate()
                server.shutdown()
                server.server_close()
            ms = (Runtime.answered_at - start) * 1000
            body = Runtime.answer.get("body")
            ok = (
                Runtime.answer.get("path", "").endswith("/response")
                and isinstance(body, dict)
                and body.get("errorType") is None
                and body.get("data", {}).get("firstName") == "Ann"
            )
            if not ok:
                print(f"unexpected answer: {Runtime.answer}\n{err.decode(errors='replace')}", file=sys.stderr)
                return 1
            times.append(ms)
            print(f"run {i + 1}: first answer after {ms:.1f} ms")
    finally:
        ddb.delete_table(TableName=table)
    print(
        f"cold start (process start to first answer, createTrainer on dynalite): "
        f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms "
        f"over {runs} runs; binary {BOOTSTRAP.stat().st_size:,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
