"""Accounts (contract section 11) on AWS: the Cognito user pool, its app client and admin group,
the pool as AppSync's second authorization mode, the Lambda's owner rules, the outputs that
`trainers serve --auth-issuer ... --auth-client-id ...` takes; and `-c accounts=false`, the
tutorial's API-key-only stack, with none of it and a schema AppSync accepts without Cognito."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template

from conftest import INFRA, make_app, stack_template
from test_stack import EXPECTED_TYPES, keys_table, of_type, one, trainers_table
from trainers_infra.graphql_api import SCHEMA, api_key_only
from trainers_infra.stack import build_app

SDL = SCHEMA.read_text(encoding="utf-8")
COGNITO_TYPES = (
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolGroup",
)
ACCOUNTS_OUTPUTS = {"UserPoolId", "UserPoolClientId", "AuthIssuer"}


@pytest.fixture(scope="module")
def without_accounts(tmp_path_factory, fake_asset) -> Template:
    return stack_template(tmp_path_factory, fake_asset, accounts="false")


def directives_of(sdl: str, type_name: str) -> list[str]:
    m = re.search(r"^type " + type_name + r"\b([^{]*)\{", sdl, re.M)
    assert m, type_name
    return m.group(1).split()


# --- the user pool -------------------------------------------------------------------------


def test_the_pool_takes_no_sign_ups_and_strong_passwords(template):
    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            # Users are made by the operator (admin-create-user), not by anyone who finds it.
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "Policies": {
                "PasswordPolicy": {
                    "MinimumLength": 12,
                    "RequireLowercase": True,
                    "RequireUppercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": True,
                    "TemporaryPasswordValidityDays": 3,
                }
            },
            # Signed in by username (the `owner` is `<sub>::<username>`), in any case.
            "UsernameAttributes": Match.absent(),
            "AliasAttributes": Match.absent(),
            "UsernameConfiguration": {"CaseSensitive": False},
            "AccountRecoverySetting": {
                "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
            },
            "AutoVerifiedAttributes": ["email"],
        },
    )


def test_the_pool_offers_totp_mfa_and_no_sms(template, resources):
    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "MfaConfiguration": "OPTIONAL",
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "SmsConfiguration": Match.absent(),
            "UserPoolTier": "ESSENTIALS",
        },
    )
    # No role that may send SMS: the stack's roles are its three own (test_iam.py).
    assert len(of_type(resources, "AWS::IAM::Role")) == 3


def test_the_pool_is_kept_as_the_table_is(template):
    template.has_resource(
        "AWS::Cognito::UserPool",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like({"DeletionProtection": "ACTIVE"}),
        },
    )


def test_destroy_table_lets_the_pool_go_too(tmp_path_factory, fake_asset):
    t = stack_template(tmp_path_factory, fake_asset, destroyTable="true")
    t.has_resource(
        "AWS::Cognito::UserPool",
        {
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": Match.object_like({"DeletionProtection": "INACTIVE"}),
        },
    )


# --- the app client and the admin group ----------------------------------------------------


def test_the_app_client_is_a_public_apps_with_srp_and_password_sign_in(template, resources):
    pool, _ = one(resources, "AWS::Cognito::UserPool")
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "UserPoolId": {"Ref": pool},
            # A browser or a CLI cannot keep a secret.
            "GenerateSecret": False,
            # No hosted UI: no OAuth flows, and no callback URLs to leave at example.com.
            "AllowedOAuthFlowsUserPoolClient": False,
            "AllowedOAuthFlows": Match.absent(),
            "CallbackURLs": Match.absent(),
            "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": True,
            "AccessTokenValidity": 60,
            "IdTokenValidity": 60,
            "RefreshTokenValidity": 30 * 24 * 60,
            "TokenValidityUnits": {
                "AccessToken": "minutes",
                "IdToken": "minutes",
                "RefreshToken": "minutes",
            },
        },
    )

    _, props = one(resources, "AWS::Cognito::UserPoolClient")
    # Amplify JS signs in with SRP; scripts and tests with USER_PASSWORD_AUTH. Nothing else.
    assert sorted(props["Properties"]["ExplicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]


def test_the_admin_group_is_in_the_pool(template, resources):
    pool, _ = one(resources, "AWS::Cognito::UserPool")
    template.has_resource_properties(
        "AWS::Cognito::UserPoolGroup", {"GroupName": "Admins", "UserPoolId": {"Ref": pool}}
    )


def test_the_admin_group_is_the_settings_and_the_lambda_is_told(tmp_path_factory, fake_asset):
    t = stack_template(tmp_path_factory, fake_asset, adminGroup="Coaches")
    t.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "Coaches"})
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"TRAINERS_ADMIN_GROUP": "Coaches"})}},
    )


@pytest.mark.parametrize("group", ["", "two words", "x" * 129])
def test_an_admin_group_cognito_cannot_name_is_refused(tmp_path_factory, fake_asset, group):
    with pytest.raises(ValueError, match="adminGroup"):
        stack_template(tmp_path_factory, fake_asset, adminGroup=group)


# --- AppSync and the Lambda ----------------------------------------------------------------


def test_appsync_takes_the_pools_tokens_of_the_app_client_beside_the_api_key(template, resources):
    pool, _ = one(resources, "AWS::Cognito::UserPool")
    client, _ = one(resources, "AWS::Cognito::UserPoolClient")
    _, api = one(resources, "AWS::AppSync::GraphQLApi")
    assert api["Properties"]["AuthenticationType"] == "API_KEY"
    assert api["Properties"]["AdditionalAuthenticationProviders"] == [
        {
            "AuthenticationType": "AMAZON_COGNITO_USER_POOLS",
            "UserPoolConfig": {
                "UserPoolId": {"Ref": pool},
                "AwsRegion": {"Ref": "AWS::Region"},
                "AppIdClientRegex": {"Ref": client},
            },
        }
    ]


def test_appsync_serves_the_schema_with_cognitos_directives(template):
    template.has_resource_properties("AWS::AppSync::GraphQLSchema", {"Definition": SDL})
    assert directives_of(SDL, "Mutation") == ["@aws_cognito_user_pools"]
    for type_name in ("Query", "Subscription", "Trainers", "PaginatedTrainers"):
        assert directives_of(SDL, type_name) == ["@aws_api_key", "@aws_cognito_user_pools"]


def test_the_lambda_applies_the_owner_rules_with_the_admin_group(template, resources):
    table, _ = trainers_table(resources)
    keys, _ = keys_table(resources)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "TABLE_NAME": {"Ref": table},
                    "TRAINERS_KEYS_TABLE": {"Ref": keys},
                    "TRAINERS_ACCESS": "owners",
                    "TRAINERS_ADMIN_GROUP": "Admins",
                }
            }
        },
    )


def test_outputs_give_the_pool_the_client_and_the_issuer(template, resources):
    pool, _ = one(resources, "AWS::Cognito::UserPool")
    client, _ = one(resources, "AWS::Cognito::UserPoolClient")
    template.has_output("UserPoolId", {"Value": {"Ref": pool}})
    template.has_output("UserPoolClientId", {"Value": {"Ref": client}})
    # A Cognito token's `iss`, what `trainers serve --auth-issuer` takes.
    template.has_output(
        "AuthIssuer",
        {
            "Value": {
                "Fn::Join": [
                    "",
                    [
                        "https://cognito-idp.",
                        {"Ref": "AWS::Region"},
                        ".",
                        {"Ref": "AWS::URLSuffix"},
                        "/",
                        {"Ref": pool},
                    ],
                ]
            }
        },
    )


# --- accounts=false: the tutorial's stack ---------------------------------------------------


@pytest.mark.parametrize("flag", [False, "false", "FALSE"])
def test_without_accounts_there_is_no_pool(tmp_path_factory, fake_asset, flag):
    t = stack_template(tmp_path_factory, fake_asset, accounts=flag)
    resources = t.to_json()["Resources"]
    for type_ in COGNITO_TYPES:
        assert not of_type(resources, type_), type_
    counts: dict[str, int] = {}
    for r in resources.values():
        counts[r["Type"]] = counts.get(r["Type"], 0) + 1
    assert counts == {k: v for k, v in EXPECTED_TYPES.items() if k not in COGNITO_TYPES}


def test_without_accounts_the_api_key_is_the_only_mode(without_accounts):
    without_accounts.has_resource_properties(
        "AWS::AppSync::GraphQLApi",
        {"AuthenticationType": "API_KEY", "AdditionalAuthenticationProviders": Match.absent()},
    )


def test_without_accounts_the_schema_names_no_cognito(without_accounts):
    _, schema = one(without_accounts.to_json()["Resources"], "AWS::AppSync::GraphQLSchema")
    definition = schema["Properties"]["Definition"]
    assert definition == api_key_only(SDL)
    assert "@aws_cognito_user_pools" not in definition
    # The API key may call everything: mutations too, as in the tutorial.
    assert directives_of(definition, "Mutation") == ["@aws_api_key"]


def test_without_accounts_the_lambda_is_open(without_accounts):
    fn = one(without_accounts.to_json()["Resources"], "AWS::Lambda::Function")[1]
    variables = fn["Properties"]["Environment"]["Variables"]
    assert variables["TRAINERS_ACCESS"] == "open"
    assert "TRAINERS_ADMIN_GROUP" not in variables


def test_without_accounts_the_outputs_are_the_tutorials(without_accounts):
    outputs = without_accounts.to_json()["Outputs"]
    assert set(outputs) == {"GraphQLUrl", "RealtimeUrl", "ApiId", "TableName"}


def test_without_accounts_the_checks_pass_with_no_cognito_acknowledgement(
    tmp_path_factory, fake_asset
):
    app = make_app(tmp_path_factory, fake_asset, accounts="false")
    build_app(app)
    assembly = app.synth()
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    assert [v for p in report["pluginReports"] for v in p.get("violations", [])] == []


@pytest.mark.parametrize("flag", ["no", "0", "off", "flase", ""])
def test_an_accounts_value_neither_true_nor_false_is_refused(tmp_path_factory, fake_asset, flag):
    """A typo must not deploy the open API where owners were meant (nor the reverse)."""
    with pytest.raises(ValueError, match="accounts"):
        stack_template(tmp_path_factory, fake_asset, accounts=flag)


# --- api_key_only ----------------------------------------------------------------------------


def test_api_key_only_gives_cognitos_types_to_the_api_key():
    sdl = (
        "type A @aws_api_key @aws_cognito_user_pools {\n  a: Int\n}\n"
        "type M @aws_cognito_user_pools {\n  m: Int\n}\n"
        "type B @aws_cognito_user_pools @aws_api_key {\n  b: Int\n}\n"
        'type F {\n  f: Int @aws_cognito_user_pools(cognito_groups: ["Admins"])\n}\n'
    )
    assert api_key_only(sdl) == (
        "type A @aws_api_key {\n  a: Int\n}\n"
        "type M @aws_api_key {\n  m: Int\n}\n"
        "type B @aws_api_key {\n  b: Int\n}\n"
        "type F {\n  f: Int @aws_api_key\n}\n"
    )


def test_api_key_only_leaves_everything_else_as_it_is():
    sdl = (
        "# a comment\n"
        "type T @aws_api_key {\n  id: ID!\n}\n"
        "type Subscription {\n"
        '  onCreate: T @aws_subscribe(mutations: ["create"])\n}\n'
        "input I {\n  x: Int\n}\n"
    )
    assert api_key_only(sdl) == sdl


def test_api_key_only_of_the_schema_changes_only_its_directives():
    out = api_key_only(SDL)
    assert "@aws_cognito_user_pools" not in out
    strip = re.compile(r"\s*@aws_(api_key|cognito_user_pools)\b")
    assert strip.sub("", out) == strip.sub("", SDL)
    for type_name in ("Query", "Mutation", "Subscription", "Trainers", "PaginatedTrainers"):
        assert directives_of(out, type_name) == ["@aws_api_key"], type_name
    # And applied twice, it changes nothing more.
    assert api_key_only(out) == out


def test_cdk_json_turns_accounts_on_with_the_admins_group(tmp_path_factory, fake_asset):
    """cdk.json's context (JSON's `true`, not the string `-c` gives) is read as the defaults."""
    context = json.loads((INFRA / "cdk.json").read_text())["context"]
    assert context["accounts"] is True
    assert context["adminGroup"] == "Admins"
    del context["lambdaAssetDir"]
    t = stack_template(tmp_path_factory, fake_asset, **context)
    t.resource_count_is("AWS::Cognito::UserPool", 1)
    t.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "Admins"})
