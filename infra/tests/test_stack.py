"""The synthesized template: every resource and property the issue asks for, the Lambda
resolvers of every Query and Mutation field, the filtering resolvers of the subscriptions,
least-privilege IAM, and the context values."""

from __future__ import annotations

import json
import re
import time

import pytest
from aws_cdk.assertions import Capture, Match

from conftest import INFRA, stack_template
from trainers_infra.graphql_api import (
    FIELDS,
    RESOLVER_JS,
    SCHEMA,
    SUBSCRIPTION_FIELDS,
    SUBSCRIPTIONS_JS,
)

REPO = INFRA.parent

EXPECTED_TYPES = {
    # The trainers, and `<table>-keys` (the page-token secret).
    "AWS::DynamoDB::Table": 2,
    "AWS::Lambda::Function": 1,
    "AWS::Logs::LogGroup": 2,
    "AWS::IAM::Role": 3,
    "AWS::IAM::Policy": 1,
    "AWS::AppSync::GraphQLApi": 1,
    "AWS::AppSync::GraphQLSchema": 1,
    "AWS::AppSync::ApiKey": 1,
    # The Lambda, and NONE for the subscriptions' filters.
    "AWS::AppSync::DataSource": 2,
    # 7 Query and Mutation fields on the Lambda, 3 subscriptions on NONE.
    "AWS::AppSync::Resolver": 10,
    # Accounts (test_accounts.py): the user pool, its app client and the admin group.
    "AWS::Cognito::UserPool": 1,
    "AWS::Cognito::UserPoolClient": 1,
    "AWS::Cognito::UserPoolGroup": 1,
}


def of_type(resources: dict, type_: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def one(resources: dict, type_: str) -> tuple[str, dict]:
    found = of_type(resources, type_)
    assert len(found) == 1, f"one {type_}, found {list(found)}"
    return next(iter(found.items()))


def trainers_table(resources: dict) -> tuple[str, dict]:
    """The table of the trainers (the other is its keys table)."""
    (found,) = [
        (k, v)
        for k, v in of_type(resources, "AWS::DynamoDB::Table").items()
        if k.startswith("Table")
    ]
    return found


def keys_table(resources: dict) -> tuple[str, dict]:
    (found,) = [
        (k, v)
        for k, v in of_type(resources, "AWS::DynamoDB::Table").items()
        if k.startswith("KeysTable")
    ]
    return found


def getatt(logical_id: str, attr: str) -> dict:
    return {"Fn::GetAtt": [logical_id, attr]}


def data_source(resources: dict, kind: str) -> tuple[str, dict]:
    """The one data source of type `kind` (AWS_LAMBDA, NONE)."""
    found = {
        k: v
        for k, v in of_type(resources, "AWS::AppSync::DataSource").items()
        if v["Properties"]["Type"] == kind
    }
    assert len(found) == 1, f"one {kind} data source, found {list(found)}"
    return next(iter(found.items()))


def test_the_stack_holds_exactly_these_resources(resources):
    counts: dict[str, int] = {}
    for r in resources.values():
        counts[r["Type"]] = counts.get(r["Type"], 0) + 1
    assert counts == EXPECTED_TYPES


# --- the table -----------------------------------------------------------------------------


def test_table_is_the_dynamodb_stores_layout(template):
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": Match.array_equals(
                [
                    {"AttributeName": "id", "AttributeType": "S"},
                    {"AttributeName": "specialty", "AttributeType": "S"},
                    {"AttributeName": "lastName", "AttributeType": "S"},
                ]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "bySpecialty",
                    "KeySchema": [
                        {"AttributeName": "specialty", "KeyType": "HASH"},
                        {"AttributeName": "id", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                # trainersBySpecialty (crates/store-dynamodb queries it by this name).
                {
                    "IndexName": "bySpecialtyLastName",
                    "KeySchema": [
                        {"AttributeName": "specialty", "KeyType": "HASH"},
                        {"AttributeName": "lastName", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
        },
    )


def test_table_is_on_demand_recoverable_and_encrypted(template):
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "ProvisionedThroughput": Match.absent(),
        },
    )


def test_table_is_kept_by_default(template):
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
        },
    )


@pytest.mark.parametrize("flag", [True, "true"])
def test_destroy_table_flag_lets_the_table_go(tmp_path_factory, fake_asset, flag):
    t = stack_template(tmp_path_factory, fake_asset, destroyTable=flag)
    t.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": Match.object_like({"DeletionProtectionEnabled": False}),
        },
    )


def test_the_keys_table_is_named_after_the_table_as_trainers_serve_looks_for_it(resources):
    """`trainers serve --store dynamodb --table T` reads the page-token secret from `T-keys`:
    named so, a server on the deployed table signs tokens as the function does."""
    table, _ = trainers_table(resources)
    _, keys = keys_table(resources)
    assert keys["Properties"]["TableName"] == {"Fn::Join": ["", [{"Ref": table}, "-keys"]]}
    assert keys["Properties"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert keys["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert keys["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }
    assert keys["DeletionPolicy"] == "Retain"


# --- the API ---------------------------------------------------------------------------------


def test_api_uses_api_keys_logs_errors_and_traces(template, resources):
    # The API key is the default mode; Cognito's users are the one other (test_accounts.py).
    logs_role, _ = next(
        (k, v)
        for k, v in of_type(resources, "AWS::IAM::Role").items()
        if k.startswith("ApiLogsRole")
    )
    template.has_resource_properties(
        "AWS::AppSync::GraphQLApi",
        {
            "AuthenticationType": "API_KEY",
            "AdditionalAuthenticationProviders": [
                Match.object_like({"AuthenticationType": "AMAZON_COGNITO_USER_POOLS"})
            ],
            "XrayEnabled": True,
            "LogConfig": {
                "FieldLogLevel": "ERROR",
                "ExcludeVerboseContent": True,
                "CloudWatchLogsRoleArn": getatt(logs_role, "Arn"),
            },
        },
    )


def test_api_serves_the_schema_file(template):
    template.has_resource_properties(
        "AWS::AppSync::GraphQLSchema",
        {"Definition": SCHEMA.read_text(encoding="utf-8")},
    )


def test_api_logs_are_kept_a_month_in_the_apis_own_group(template, resources):
    api, _ = one(resources, "AWS::AppSync::GraphQLApi")
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": {"Fn::Join": ["", ["/aws/appsync/apis/", getatt(api, "ApiId")]]},
            "RetentionInDays": 30,
        },
    )


def expiry_of(template) -> int:
    expires = Capture()
    template.has_resource_properties("AWS::AppSync::ApiKey", {"Expires": expires})
    return int(expires.as_number())


@pytest.mark.parametrize("days", [None, 2, 30, 365])
def test_api_key_expires_after_the_context_days(tmp_path_factory, fake_asset, days):
    context = {} if days is None else {"apiKeyExpiryDays": days}
    before = time.time()
    t = stack_template(tmp_path_factory, fake_asset, **context)
    after = time.time()
    want = 7 if days is None else days
    # Expiration.after() bakes in the synth time: a range, not a literal.
    expires = expiry_of(t)
    assert before + want * 86400 - 3600 <= expires <= after + want * 86400 + 3600


@pytest.mark.parametrize("days", [0, 1, 366, "soon", -1])
def test_api_key_expiry_out_of_range_is_refused(tmp_path_factory, fake_asset, days):
    with pytest.raises(ValueError, match="apiKeyExpiryDays"):
        stack_template(tmp_path_factory, fake_asset, apiKeyExpiryDays=days)


def test_a_missing_lambda_asset_is_refused_with_the_way_to_build_it(tmp_path_factory, fake_asset):
    empty = tmp_path_factory.mktemp("no-asset")
    with pytest.raises(ValueError, match=r"build-lambda\.sh"):
        stack_template(tmp_path_factory, fake_asset, lambdaAssetDir=str(empty))


# --- the function ----------------------------------------------------------------------------


def test_function_is_the_rust_bootstrap_on_al2023(template, resources):
    table, _ = trainers_table(resources)
    keys, _ = keys_table(resources)
    role = next(k for k in of_type(resources, "AWS::IAM::Role") if k.startswith("ResolverRole"))
    logs = next(
        k for k in of_type(resources, "AWS::Logs::LogGroup") if k.startswith("ResolverLogs")
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": ["x86_64"],
            "Environment": {
                "Variables": {
                    "TABLE_NAME": {"Ref": table},
                    "TRAINERS_KEYS_TABLE": {"Ref": keys},
                    # Accounts' owner rules (test_accounts.py).
                    "TRAINERS_ACCESS": "owners",
                    "TRAINERS_ADMIN_GROUP": "Admins",
                }
            },
            "Role": getatt(role, "Arn"),
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": {"Ref": logs}},
            "Code": {"S3Bucket": Match.any_value(), "S3Key": Match.string_like_regexp(r"\.zip$")},
        },
    )


def test_function_logs_are_kept_a_month(template, resources):
    logs = next(
        k for k in of_type(resources, "AWS::Logs::LogGroup") if k.startswith("ResolverLogs")
    )
    assert resources[logs]["Properties"] == {"RetentionInDays": 30}


# --- the data source and the resolvers -------------------------------------------------------


def test_the_data_source_is_the_function_with_its_own_role(template, resources):
    fn, _ = one(resources, "AWS::Lambda::Function")
    role = next(k for k in of_type(resources, "AWS::IAM::Role") if k.startswith("DataSourceRole"))
    template.has_resource_properties(
        "AWS::AppSync::DataSource",
        {
            "Type": "AWS_LAMBDA",
            "LambdaConfig": {"LambdaFunctionArn": getatt(fn, "Arn")},
            "ServiceRoleArn": getatt(role, "Arn"),
        },
    )


@pytest.mark.parametrize(("type_name", "field_name"), FIELDS)
def test_every_field_is_resolved_by_the_function(template, resources, type_name, field_name):
    api, _ = one(resources, "AWS::AppSync::GraphQLApi")
    _, source = data_source(resources, "AWS_LAMBDA")
    template.has_resource_properties(
        "AWS::AppSync::Resolver",
        {
            "ApiId": getatt(api, "ApiId"),
            "TypeName": type_name,
            "FieldName": field_name,
            "DataSourceName": source["Properties"]["Name"],
            "Kind": "UNIT",
            "Runtime": {"Name": "APPSYNC_JS", "RuntimeVersion": "1.0.0"},
            "Code": RESOLVER_JS.read_text(encoding="utf-8"),
            "RequestMappingTemplate": Match.absent(),
            "ResponseMappingTemplate": Match.absent(),
        },
    )


def fields_of_schema(*roots: str) -> set[tuple[str, str]]:
    sdl = SCHEMA.read_text(encoding="utf-8")
    found = set()
    for root in roots:
        # `type Query @aws_api_key ... {`: the type's directives, then its fields.
        body = re.search(r"type " + root + r"\b[^{]*\{(.*?)\n\}", sdl, re.S)
        assert body, root
        found |= {(root, f) for f in re.findall(r"^\s+(\w+)\s*\(", body.group(1), re.M)}
    return found


def resolved_fields(resources: dict, source_name) -> set[tuple[str, str]]:
    return {
        (r["Properties"]["TypeName"], r["Properties"]["FieldName"])
        for r in of_type(resources, "AWS::AppSync::Resolver").values()
        if r["Properties"]["DataSourceName"] == source_name
    }


def test_the_lambda_resolves_every_query_and_mutation_of_the_schema(resources):
    _, source = data_source(resources, "AWS_LAMBDA")
    resolved = resolved_fields(resources, source["Properties"]["Name"])
    assert resolved == fields_of_schema("Query", "Mutation") == set(FIELDS)
    assert ("Query", "trainersBySpecialty") in resolved
    assert ("Query", "countTrainers") in resolved


def test_every_subscription_of_the_schema_is_filtered_on_a_none_data_source(template, resources):
    api, _ = one(resources, "AWS::AppSync::GraphQLApi")
    _, source = data_source(resources, "NONE")
    # NONE reaches nothing: no role, no configuration.
    assert set(source["Properties"]) == {"ApiId", "Name", "Description", "Type"}
    resolved = resolved_fields(resources, source["Properties"]["Name"])
    assert resolved == fields_of_schema("Subscription") == set(SUBSCRIPTION_FIELDS)
    for type_name, field_name in SUBSCRIPTION_FIELDS:
        template.has_resource_properties(
            "AWS::AppSync::Resolver",
            {
                "ApiId": getatt(api, "ApiId"),
                "TypeName": type_name,
                "FieldName": field_name,
                "DataSourceName": source["Properties"]["Name"],
                "Kind": "UNIT",
                "Runtime": {"Name": "APPSYNC_JS", "RuntimeVersion": "1.0.0"},
                "Code": SUBSCRIPTIONS_JS.read_text(encoding="utf-8"),
            },
        )


def test_every_resolver_has_a_data_source_of_the_stack(resources):
    names = {
        r["Properties"]["Name"] for r in of_type(resources, "AWS::AppSync::DataSource").values()
    }
    for k, r in of_type(resources, "AWS::AppSync::Resolver").items():
        assert r["Properties"]["DataSourceName"] in names, k


def test_resolvers_wait_for_the_schema(resources):
    schema, _ = one(resources, "AWS::AppSync::GraphQLSchema")
    for r in of_type(resources, "AWS::AppSync::Resolver").values():
        assert schema in r.get("DependsOn", []), r


# --- outputs ---------------------------------------------------------------------------------


def test_outputs_give_the_urls_and_ids_and_never_the_api_key(template, resources):
    api, _ = one(resources, "AWS::AppSync::GraphQLApi")
    key, _ = one(resources, "AWS::AppSync::ApiKey")
    table, _ = trainers_table(resources)
    template.has_output("GraphQLUrl", {"Value": getatt(api, "GraphQLUrl")})
    template.has_output("RealtimeUrl", {"Value": getatt(api, "RealtimeUrl")})
    template.has_output("ApiId", {"Value": getatt(api, "ApiId")})
    template.has_output("TableName", {"Value": {"Ref": table}})
    # In AppSync an API key's id is the key itself (the `da2-...` value of x-api-key): an output
    # of it gives the key to whoever may read the stack. No output refers to the key at all.
    outputs = template.to_json()["Outputs"]
    # (And accounts' three: the user pool, its app client, its issuer; test_accounts.py.)
    assert set(outputs) == {
        "GraphQLUrl",
        "RealtimeUrl",
        "ApiId",
        "TableName",
        "UserPoolId",
        "UserPoolClientId",
        "AuthIssuer",
    }, outputs
    assert key not in json.dumps(outputs), outputs
