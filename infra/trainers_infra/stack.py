"""The one stack of the Trainers API: the DynamoDB table, the AppSync API and the Rust Lambda
resolver behind every field, the Cognito user pool of accounts (unless `-c accounts=false`),
with least-privilege IAM and the cdk-nag AwsSolutions checks."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CfnElement, CfnOutput, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from trainers_infra.accounts import Accounts
from trainers_infra.graphql_api import TrainersGraphqlApi
from trainers_infra.group import logical_id_without_groups
from trainers_infra.resolver_function import ResolverFunction
from trainers_infra.settings import Settings
from trainers_infra.table import TrainersTable

STACK_NAME = "TrainersApi"


class TrainersApiStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, settings: Settings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tables = TrainersTable(self, "Table", destroy=settings.destroy_table)
        self.table = tables.table
        self.accounts = (
            Accounts(
                self, "Accounts", admin_group=settings.admin_group, destroy=settings.destroy_table
            )
            if settings.accounts
            else None
        )
        self.function = ResolverFunction(
            self,
            "Resolver",
            table=self.table,
            keys_table=tables.keys_table,
            asset_dir=settings.lambda_asset_dir,
            admin_group=settings.admin_group if self.accounts is not None else None,
        ).function
        api = TrainersGraphqlApi(
            self,
            "Api",
            api_key_expiry_days=settings.api_key_expiry_days,
            resolver=self.function,
            user_pool=self.accounts.user_pool if self.accounts is not None else None,
            user_pool_client=self.accounts.client if self.accounts is not None else None,
        )
        self.api = api.api

        CfnOutput(self, "GraphQLUrl", value=self.api.graphql_url, description="POST GraphQL here")
        CfnOutput(
            self,
            "RealtimeUrl",
            value=api.cfn_api.attr_realtime_url,
            description="AppSync's real-time (WebSocket) endpoint, for subscriptions",
        )
        # No output of the API key: in AppSync its id IS the key, and outputs are readable by
        # whoever may describe the stack (and land in outputs.json, CI logs). Users get it with
        # `aws appsync list-api-keys --api-id <ApiId>`, which needs appsync:ListApiKeys.
        CfnOutput(self, "ApiId", value=self.api.api_id, description="The AppSync API id")
        CfnOutput(
            self,
            "TableName",
            value=self.table.table_name,
            description="For trainers serve --store dynamodb --table",
        )
        if self.accounts is not None:
            CfnOutput(
                self,
                "UserPoolId",
                value=self.accounts.user_pool.user_pool_id,
                description="The Cognito user pool of the API's users",
            )
            CfnOutput(
                self,
                "UserPoolClientId",
                value=self.accounts.client.user_pool_client_id,
                description="The app client to sign in with; for trainers serve --auth-client-id",
            )
            CfnOutput(
                self,
                "AuthIssuer",
                value=self.accounts.issuer,
                description="The user pool's token issuer; for trainers serve --auth-issuer",
            )

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        # (jsii's name for Stack.allocateLogicalId.) The constructs above are groups
        # (trainers_infra/group.py): their ids are left out of the logical IDs.
        own = logical_id_without_groups(self, cfn_element)
        return own or super()._allocate_logical_id(cfn_element)


def build_app(app: cdk.App, settings: Settings | None = None) -> TrainersApiStack:
    """The stack on `app`, with the AwsSolutions checks of cdk-nag on the whole app."""
    stack = TrainersApiStack(
        app,
        STACK_NAME,
        settings or Settings.from_context(app.node),
        description="The Trainers API: AppSync, a Rust Lambda resolver and a DynamoDB table",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack
