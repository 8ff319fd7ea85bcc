"""The stack's constructs group its resources without renaming them: every logical ID is the one
deployed stacks have (from before the constructs), and the stack's ID scheme is CDK's own."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from constructs import Construct

from trainers_infra.group import make_unique_id

# A new logical ID is a new resource to CloudFormation: an update would replace the table, the
# API (a new URL and key) and the log groups, and fail on a second resolver of one field or a
# second log group of one name. Change one only knowingly (`cdk refactor`, or a new stack).
LOGICAL_IDS = {
    "ApiDefaultApiKeyF991C37B": "AWS::AppSync::ApiKey",
    "ApiF70053CD": "AWS::AppSync::GraphQLApi",
    "ApiLogs3D05D88B": "AWS::Logs::LogGroup",
    "ApiLogsPolicyEC02E831": "AWS::IAM::Policy",
    "ApiLogsRole096B25EE": "AWS::IAM::Role",
    "ApiSchema510EECD7": "AWS::AppSync::GraphQLSchema",
    "DataSourceRole4B8362A3": "AWS::IAM::Role",
    "MutationCreateTrainerResolverB72F0A60": "AWS::AppSync::Resolver",
    "MutationDeleteTrainerResolver5A6DE77B": "AWS::AppSync::Resolver",
    "MutationUpdateTrainersResolver1C355EC2": "AWS::AppSync::Resolver",
    "QueryAllTrainersResolverA157B1BB": "AWS::AppSync::Resolver",
    "QueryGetTrainerResolver64DFD6DD": "AWS::AppSync::Resolver",
    "ResolverE74F069E": "AWS::Lambda::Function",
    "ResolverLogs261F0ADB": "AWS::Logs::LogGroup",
    "ResolverRoleD33B7B36": "AWS::IAM::Role",
    "ResolverSourceCE3A53A9": "AWS::AppSync::DataSource",
    "TableCD117FA1": "AWS::DynamoDB::Table",
    # Added with filters (contract, section 10): new resources, the IDs above unchanged.
    "QueryCountTrainersResolver3C17E429": "AWS::AppSync::Resolver",
    "QueryTrainersBySpecialtyResolverEB0C3622": "AWS::AppSync::Resolver",
    "SubscriptionOnCreateTrainerResolverD1E96F58": "AWS::AppSync::Resolver",
    "SubscriptionOnDeleteTrainerResolver3854B383": "AWS::AppSync::Resolver",
    "SubscriptionOnUpdateTrainerResolver6E4CCBAA": "AWS::AppSync::Resolver",
    "SubscriptionSource05BFE71C": "AWS::AppSync::DataSource",
    # The function's page-token secret (`<table>-keys`), added after filters.
    "KeysTableDD857A22": "AWS::DynamoDB::Table",
    # Accounts (contract section 11), added after the keys table.
    "UserPool6BA7E5F2": "AWS::Cognito::UserPool",
    "UserPoolAppClientDD0407EC": "AWS::Cognito::UserPoolClient",
    "AdminGroup": "AWS::Cognito::UserPoolGroup",
}


def test_logical_ids_are_those_of_deployed_stacks(resources):
    assert {k: v["Type"] for k, v in resources.items()} == LOGICAL_IDS


@pytest.mark.parametrize(
    "path",
    [
        "Table",
        "Table/Resource",
        "Api/Default/Resource",
        "Api/Api/Resource",
        "Api/ApiLogs/Resource",
        "Api/Schema",
        "a-b.c/D_e/Resource",
        "x" * 300,
        "Long" * 70 + "/Resource",
    ],
)
def test_make_unique_id_is_cdks_scheme(path):
    """The same ID as CDK's own (Names.unique_id: the path below the app's root)."""
    node: Construct = cdk.App()
    for component in path.split("/"):
        node = Construct(node, component)
    assert make_unique_id(path.split("/")) == cdk.Names.unique_id(node)
