"""Least privilege: own roles with inline statements, no managed policy, no `*` anywhere; the
function may do only what the DynamoDB store does, on this table and its index; the data source
may invoke only this function."""

from __future__ import annotations

import json
import re

from conftest import INFRA
from test_stack import getatt, keys_table, of_type, one, trainers_table
from trainers_infra.resolver_function import (
    INDEX_ACTIONS,
    KEYS_TABLE_ACTIONS,
    PAGE_TOKEN_SECRET_ID,
    TABLE_ACTIONS,
)
from trainers_infra.table import INDEX_NAMES

STORE_SRC = INFRA.parent / "crates" / "store-dynamodb" / "src"


def role(resources: dict, prefix: str) -> tuple[str, dict]:
    found = [
        (k, v) for k, v in of_type(resources, "AWS::IAM::Role").items() if k.startswith(prefix)
    ]
    assert len(found) == 1, f"one role {prefix}*, found {found}"
    return found[0]


def statements(policy_document: dict) -> list[dict]:
    return policy_document["Statement"]


def as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def all_statements(resources: dict) -> list[dict]:
    out = []
    for r in of_type(resources, "AWS::IAM::Role").values():
        for p in r["Properties"].get("Policies", []):
            out += statements(p["PolicyDocument"])
    for r in of_type(resources, "AWS::IAM::Policy").values():
        out += statements(r["Properties"]["PolicyDocument"])
    return out


def test_no_managed_policy_and_no_wildcard_anywhere(resources):
    for name, r in of_type(resources, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in r["Properties"], name
    assert not of_type(resources, "AWS::IAM::ManagedPolicy")
    stmts = all_statements(resources)
    assert stmts
    for s in stmts:
        assert s["Effect"] == "Allow"
        assert "NotAction" not in s, s
        assert "NotResource" not in s, s
        for action in as_list(s["Action"]):
            assert "*" not in action, s
        for resource in as_list(s["Resource"]):
            # Every resource is a reference to a resource of this stack, never a pattern.
            assert "*" not in json.dumps(resource), s
            assert isinstance(resource, dict), s


def test_the_function_does_only_the_stores_dynamodb_actions_on_its_table_and_index(resources):
    table, _ = trainers_table(resources)
    keys, _ = keys_table(resources)
    logs = next(
        k for k in of_type(resources, "AWS::Logs::LogGroup") if k.startswith("ResolverLogs")
    )
    _, r = role(resources, "ResolverRole")
    assert r["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    (policy,) = r["Properties"]["Policies"]
    assert statements(policy["PolicyDocument"]) == [
        {
            "Sid": "Table",
            "Effect": "Allow",
            "Action": list(TABLE_ACTIONS),
            "Resource": getatt(table, "Arn"),
        },
        {
            "Sid": "SpecialtyIndex",
            "Effect": "Allow",
            "Action": INDEX_ACTIONS[0],
            "Resource": [
                {"Fn::Join": ["", [getatt(table, "Arn"), f"/index/{name}"]]}
                for name in ("bySpecialty", "bySpecialtyLastName")
            ],
        },
        {
            "Sid": "PageTokenSecret",
            "Effect": "Allow",
            "Action": list(KEYS_TABLE_ACTIONS),
            "Resource": getatt(keys, "Arn"),
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["secret#page-token"]}
            },
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": getatt(logs, "Arn"),
        },
    ]


def test_the_function_may_touch_only_the_page_token_secret_in_the_keys_table(resources):
    """A compromised function must not be able to put an API key item in the keys table (every
    server on the table would accept the key): every statement on the keys table is limited to
    the partition key of the page-token secret, the one item crates/lambda reads or puts."""
    keys, _ = keys_table(resources)
    _, r = role(resources, "ResolverRole")
    (policy,) = r["Properties"]["Policies"]
    on_keys = [
        s
        for s in statements(policy["PolicyDocument"])
        if getatt(keys, "Arn") in as_list(s["Resource"])
    ]
    assert on_keys, "the function reads the page-token secret"
    for s in on_keys:
        assert s["Condition"] == {
            "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [PAGE_TOKEN_SECRET_ID]}
        }, s
        assert set(as_list(s["Action"])) <= {"dynamodb:GetItem", "dynamodb:PutItem"}, s
    # The id is the store's: a rename there fails here, before the function is refused in AWS.
    keys_rs = (STORE_SRC / "keys.rs").read_text(encoding="utf-8")
    assert f'pub const PAGE_TOKEN_SECRET_ID: &str = "{PAGE_TOKEN_SECRET_ID}";' in keys_rs
    # And the function touches no other item of the keys table: its one use of the keys table
    # (crates/lambda) is the page-token key.
    lambda_src = (INFRA.parent / "crates" / "lambda" / "src" / "lib.rs").read_text(encoding="utf-8")
    uses = re.findall(r"DynamoKeys::new\(.*?\)\s*\.(\w+)\(", lambda_src, re.S)
    assert uses == ["page_token_key"], uses
    assert lambda_src.count("DynamoKeys") == 1, "one use of the keys table"


def test_the_function_may_query_every_index_of_the_table_and_no_other(resources):
    """An index added to the table without a grant fails here: the store's queries of it would
    be refused (AccessDeniedException) in the cloud only."""
    _, table = trainers_table(resources)
    indexes = [i["IndexName"] for i in table["Properties"]["GlobalSecondaryIndexes"]]
    assert indexes == list(INDEX_NAMES)
    _, r = role(resources, "ResolverRole")
    (policy,) = r["Properties"]["Policies"]
    (granted,) = [
        s for s in statements(policy["PolicyDocument"]) if s.get("Sid") == "SpecialtyIndex"
    ]
    assert [res["Fn::Join"][1][1] for res in granted["Resource"]] == [
        f"/index/{name}" for name in indexes
    ]


def test_the_granted_actions_are_the_ones_the_store_calls():
    """The store's requests (crates/store-dynamodb/src, less table.rs, which only makes tables
    for local use) are exactly the actions granted: a new request fails here until granted."""
    calls = set()
    for path in STORE_SRC.glob("*.rs"):
        if path.name == "table.rs":
            continue
        calls |= set(re.findall(r"\.(\w+)\(\)\s*\.table_name\(", path.read_text(encoding="utf-8")))
        calls |= set(
            re.findall(
                r"\.(get_item|put_item|update_item|delete_item|scan|query|batch_get_item|"
                r"batch_write_item|transact_get_items|transact_write_items|describe_table)\(\)",
                path.read_text(encoding="utf-8"),
            )
        )
    actions = {"dynamodb:" + "".join(w.capitalize() for w in c.split("_")) for c in calls}
    assert actions == set(TABLE_ACTIONS) | set(INDEX_ACTIONS)


def test_the_data_source_may_invoke_only_this_function(resources):
    fn, _ = one(resources, "AWS::Lambda::Function")
    api, _ = one(resources, "AWS::AppSync::GraphQLApi")
    _, r = role(resources, "DataSourceRole")
    assert r["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "appsync.amazonaws.com"},
            "Condition": {"ArnLike": {"aws:SourceArn": getatt(api, "Arn")}},
        }
    ]
    (policy,) = r["Properties"]["Policies"]
    # The function's ARN itself: not `fnArn:*` (every version and alias), as CDK's grant adds.
    assert statements(policy["PolicyDocument"]) == [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": getatt(fn, "Arn")}
    ]
    # And no other policy is attached to it.
    name, _ = role(resources, "DataSourceRole")
    for p in of_type(resources, "AWS::IAM::Policy").values():
        assert {"Ref": name} not in p["Properties"]["Roles"]


def test_appsync_may_write_only_its_own_log_group(resources):
    _, api = one(resources, "AWS::AppSync::GraphQLApi")
    name, r = role(resources, "ApiLogsRole")
    assert "Policies" not in r["Properties"]
    (trust,) = r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "appsync.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    _, policy = one(resources, "AWS::IAM::Policy")
    api_logs = next(
        k
        for k, v in of_type(resources, "AWS::Logs::LogGroup").items()
        if "LogGroupName" in v["Properties"]
    )
    assert policy["Properties"]["Roles"] == [{"Ref": name}]
    assert statements(policy["Properties"]["PolicyDocument"]) == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": getatt(api_logs, "Arn"),
        }
    ]
    # Only the logs role is the API's CloudWatch role.
    assert api["Properties"]["LogConfig"]["CloudWatchLogsRoleArn"] == getatt(name, "Arn")
