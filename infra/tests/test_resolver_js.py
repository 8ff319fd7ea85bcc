"""The resolver code (infra/resolvers/trainers.js), run under Node.js with a stand-in for
AppSync's `util`: the request handler sends the direct-resolver event that the Rust AppSync
simulator (crates/conformance/src/appsync_sim.rs) sends, and the response handler raises the
contract's errorType as the simulator does."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from trainers_infra.graphql_api import RESOLVER_JS

UTILS = """
export const util = {
  error(message, errorType) {
    const e = new Error(message);
    e.appsync = { message, errorType };
    throw e;
  },
};
"""

HARNESS = """
import { request, response } from './trainers.mjs';
const cases = JSON.parse(process.argv[2]);
const out = cases.map(([fn, ctx]) => {
  try {
    return { ok: (fn === 'request' ? request : response)(ctx) };
  } catch (e) {
    if (!e.appsync) throw e;
    return { error: e.appsync };
  }
});
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def run_js(tmp_path_factory):
    node = shutil.which("node")
    assert node, "Node.js runs the CDK CLI and these tests"
    d = tmp_path_factory.mktemp("resolver")
    utils = d / "node_modules" / "@aws-appsync" / "utils"
    utils.mkdir(parents=True)
    (utils / "package.json").write_text(
        '{"name": "@aws-appsync/utils", "type": "module", "main": "index.js"}'
    )
    (utils / "index.js").write_text(UTILS)
    (d / "trainers.mjs").write_text(RESOLVER_JS.read_text(encoding="utf-8"))
    (d / "harness.mjs").write_text(HARNESS)

    def run(*cases):
        proc = subprocess.run(
            [node, "harness.mjs", json.dumps(cases)],
            cwd=d,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run


CTX = {
    "arguments": {"id": "x", "specialty": None},
    "args": {"id": "x", "specialty": None},
    "identity": None,
    "source": None,
    "request": {"headers": {"x-api-key": "da2-secret"}, "domainName": None},
    "info": {
        "fieldName": "updateTrainers",
        "parentTypeName": "Mutation",
        "variables": {"id": "x"},
        "selectionSetList": ["id"],
        "selectionSetGraphQL": "{\n  id\n}",
    },
    "stash": {},
    "prev": None,
}


def test_request_sends_the_direct_resolver_event_without_the_headers(run_js):
    (out,) = run_js(["request", CTX])
    assert out["ok"] == {
        "operation": "Invoke",
        "payload": {
            "arguments": CTX["arguments"],
            "identity": None,
            "source": None,
            "info": CTX["info"],
            "stash": {},
        },
    }
    assert "da2-secret" not in json.dumps(out), "the API key never reaches the function"


def test_response_returns_data_or_raises_the_error_type(run_js):
    ok, err, failed = run_js(
        ["response", {"result": {"data": {"id": "x"}, "errorType": None, "errorMessage": None}}],
        [
            "response",
            {
                "result": {
                    "data": None,
                    "errorType": "NotFound",
                    "errorMessage": "No trainer with id x",
                }
            },
        ],
        ["response", {"error": {"message": "Lambda timed out", "type": "Lambda:Unhandled"}}],
    )
    assert ok == {"ok": {"id": "x"}}
    assert err == {"error": {"message": "No trainer with id x", "errorType": "NotFound"}}
    # A failed invocation tells nothing of the internals.
    assert failed == {
        "error": {"message": "An internal error occurred", "errorType": "InternalFailure"}
    }


def test_a_null_result_is_returned_as_null(run_js):
    (out,) = run_js(
        ["response", {"result": {"data": None, "errorType": None, "errorMessage": None}}]
    )
    assert out == {"ok": None}
