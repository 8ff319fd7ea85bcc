"""The subscriptions' resolver (infra/resolvers/subscriptions.js), run under Node.js with a
stand-in for AppSync's `util` and `extensions`: `util.transform.toSubscriptionFilter` records the
filter it is given and answers a marker, `extensions.setSubscriptionFilter` records what it is
given. What AppSync would filter on is the filter handed to toSubscriptionFilter, and the
resolver must set exactly what that conversion answered."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from trainers_infra.graphql_api import SUBSCRIPTIONS_JS

UTILS = """
export const calls = { toSubscriptionFilter: [], setSubscriptionFilter: [] };
export const util = {
  error(message, errorType) {
    const e = new Error(message);
    e.appsync = { message, errorType };
    throw e;
  },
  transform: {
    toSubscriptionFilter(filter, ...more) {
      calls.toSubscriptionFilter.push(more.length ? [filter, ...more] : filter);
      return { marker: calls.toSubscriptionFilter.length };
    },
  },
};
export const extensions = {
  setSubscriptionFilter(filter) {
    calls.setSubscriptionFilter.push(filter);
  },
};
"""

HARNESS = """
import { request, response } from './subscriptions.mjs';
import { calls } from '@aws-appsync/utils';
const cases = JSON.parse(process.argv[2]);
const out = cases.map((ctx) => {
  calls.toSubscriptionFilter.length = 0;
  calls.setSubscriptionFilter.length = 0;
  const req = request(ctx);
  try {
    const returned = response({ ...ctx, result: null });
    return {
      request: req,
      returned,
      toSubscriptionFilter: [...calls.toSubscriptionFilter],
      setSubscriptionFilter: [...calls.setSubscriptionFilter],
    };
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
    d = tmp_path_factory.mktemp("subscriptions")
    utils = d / "node_modules" / "@aws-appsync" / "utils"
    utils.mkdir(parents=True)
    (utils / "package.json").write_text(
        '{"name": "@aws-appsync/utils", "type": "module", "main": "index.js"}'
    )
    (utils / "index.js").write_text(UTILS)
    (d / "subscriptions.mjs").write_text(SUBSCRIPTIONS_JS.read_text(encoding="utf-8"))
    (d / "harness.mjs").write_text(HARNESS)

    def run(*args_of_each_case):
        cases = [
            {"arguments": a, "args": a, "identity": None, "source": None, "info": {}}
            for a in args_of_each_case
        ]
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


def handed_over(out: dict):
    """The one filter handed to toSubscriptionFilter, after checking that the resolver set
    exactly what it answered and returned null."""
    assert out["request"] == {"payload": None}
    assert out["returned"] is None
    (given,) = out["toSubscriptionFilter"]
    assert out["setSubscriptionFilter"] == [{"marker": 1}]
    return given


def test_no_argument_sets_no_filter(run_js):
    for out in run_js({}, {"filter": None, "id": None, "specialty": None}, {"filter": {}}):
        assert out == {
            "request": {"payload": None},
            "returned": None,
            "toSubscriptionFilter": [],
            "setSubscriptionFilter": [],
        }


def test_only_specialty(run_js):
    (out,) = run_js({"specialty": "BODYBUILDING"})
    assert handed_over(out) == {"specialty": {"eq": "BODYBUILDING"}}


def test_only_id(run_js):
    (out,) = run_js({"id": "t-1"})
    assert handed_over(out) == {"id": {"eq": "t-1"}}


def test_a_filter_with_and_and_or_is_handed_over_as_given(run_js):
    f = {
        "age": {"gt": 30},
        "or": [
            {"firstName": {"eq": "Ann"}},
            {"lastName": {"beginsWith": "L"}, "and": [{"id": {"ne": "x"}}]},
        ],
        "and": [{"specialty": {"ne": "YOUTHFITNESS"}}, {"or": [{"age": {"lt": 60}}]}],
    }
    (out,) = run_js({"filter": f})
    assert handed_over(out) == f


def test_id_and_filter_are_anded(run_js):
    f = {"lastName": {"in": ["Lee", "Kim"]}, "or": [{"age": {"le": 20}}, {"age": {"ge": 60}}]}
    (out,) = run_js({"id": "t-1", "filter": f})
    assert handed_over(out) == {"and": [f, {"id": {"eq": "t-1"}}]}


def test_filter_id_and_specialty_are_anded(run_js):
    f = {"firstName": {"contains": "n"}}
    (out,) = run_js({"filter": f, "id": "t-1", "specialty": "SENIORFITNESS"})
    assert handed_over(out) == {
        "and": [f, {"id": {"eq": "t-1"}}, {"specialty": {"eq": "SENIORFITNESS"}}]
    }


def test_every_operator_is_handed_over_as_given(run_js):
    f = {
        "and": [
            {"id": {"eq": "a"}},
            {"id": {"ne": "b"}},
            {"firstName": {"le": "M"}},
            {"firstName": {"lt": "N"}},
            {"lastName": {"ge": "A"}},
            {"lastName": {"gt": "B"}},
            {"firstName": {"contains": "nn"}},
            {"lastName": {"notContains": "zz"}},
            {"age": {"between": [20, 40]}},
            {"lastName": {"beginsWith": "Le"}},
            {"age": {"in": [30, 31]}},
            {"specialty": {"notIn": ["BODYBUILDING"]}},
        ]
    }
    (out,) = run_js({"filter": f})
    assert handed_over(out) == f


def test_two_operators_on_one_field_stay_anded(run_js):
    """`{age: {ge: 30, le: 40}}` means ge AND le in the contract: the resolver hands it over as
    an explicit `and` of one operator each, which toSubscriptionFilter cannot read otherwise."""
    top, inner = run_js(
        {"filter": {"age": {"ge": 30, "le": 40}, "firstName": {"eq": "Ann"}}},
        {
            "filter": {
                "and": [{"id": {"eq": "a"}}],
                "or": [{"lastName": {"gt": "A", "lt": "M"}}, {"age": {"eq": 7}}],
            }
        },
    )
    assert handed_over(top) == {
        "firstName": {"eq": "Ann"},
        "and": [{"age": {"ge": 30}}, {"age": {"le": 40}}],
    }
    assert handed_over(inner) == {
        "and": [{"id": {"eq": "a"}}],
        "or": [
            {"and": [{"lastName": {"gt": "A"}}, {"lastName": {"lt": "M"}}]},
            {"age": {"eq": 7}},
        ],
    }


def test_nulls_are_left_out(run_js):
    (out,) = run_js(
        {
            "id": None,
            "specialty": "BODYBUILDING",
            "filter": {
                "firstName": None,
                "age": {"eq": None, "gt": 3},
                "or": [None, {"id": {"eq": "a"}}],
                "and": None,
            },
        }
    )
    assert handed_over(out) == {
        "and": [
            {"age": {"gt": 3}, "or": [{"id": {"eq": "a"}}]},
            {"specialty": {"eq": "BODYBUILDING"}},
        ]
    }


def nested(levels: int) -> dict:
    f: dict = {"age": {"eq": 1}}
    for _ in range(levels - 1):
        f = {"or": [f]}
    return f


def test_eight_levels_are_handed_over_and_a_ninth_is_refused(run_js):
    deep, too_deep = run_js({"filter": nested(8)}, {"filter": nested(9)})
    assert handed_over(deep) == nested(8)
    assert too_deep == {
        "error": {
            "message": "filter is nested more than 8 levels deep (and, or)",
            "errorType": "ValidationError",
        }
    }
