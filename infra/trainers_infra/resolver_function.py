"""The Rust Lambda resolver (crates/lambda's `bootstrap`), its role and its log group."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from trainers_infra.group import Group
from trainers_infra.settings import LOG_RETENTION
from trainers_infra.table import INDEX_NAMES

# What crates/store-dynamodb does, and nothing else: items by key (conditional writes included,
# and the consistent read after a refused one), the scan of all trainers, and the query of the
# specialty indexes. No DescribeTable: the function opens the store without it.
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Scan",
)
INDEX_ACTIONS = ("dynamodb:Query",)
# The page-token secret in the keys table: read it, or put it once (a conditional put).
KEYS_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
# The one item of the keys table the function touches (crates/store-dynamodb's
# PAGE_TOKEN_SECRET_ID): its partition key is the only one the role may read or put, so that a
# compromised function cannot put an API key item, which every server on the table would accept.
PAGE_TOKEN_SECRET_ID = "secret#page-token"


class ResolverFunction(Group):
    """The function that resolves every field: the `bootstrap` in `asset_dir` on
    provided.al2023, on `table`. Its role may do only what the store does, on that table and its
    indexes, read or put the page-token secret's item of `keys_table` (no other item of it), and
    write the function's own log group.

    `admin_group` None: the tutorial's open API (TRAINERS_ACCESS=open, the API key may do
    everything). A name: the owner rules of accounts (TRAINERS_ACCESS=owners), decided from the
    `identity` AppSync hands the function, with that Cognito group's members as admins."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        keys_table: dynamodb.ITable,
        asset_dir: Path,
        admin_group: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "ResolverLogs",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "ResolverRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="The Trainers API resolver: its table and index, its own log group",
            inline_policies={
                "Trainers": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="Table",
                            actions=list(TABLE_ACTIONS),
                            resources=[table.table_arn],
                        ),
                        iam.PolicyStatement(
                            sid="SpecialtyIndex",
                            actions=list(INDEX_ACTIONS),
                            resources=[f"{table.table_arn}/index/{name}" for name in INDEX_NAMES],
                        ),
                        iam.PolicyStatement(
                            sid="PageTokenSecret",
                            actions=list(KEYS_TABLE_ACTIONS),
                            resources=[keys_table.table_arn],
                            conditions={
                                "ForAllValues:StringEquals": {
                                    "dynamodb:LeadingKeys": [PAGE_TOKEN_SECRET_ID]
                                }
                            },
                        ),
                        iam.PolicyStatement(
                            sid="Logs",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[self.log_group.log_group_arn],
                        ),
                    ]
                )
            },
        )
        self.function = lambda_.Function(
            self,
            "Resolver",
            description="Trainers API: the AppSync direct Lambda resolver (Rust, crates/lambda)",
            runtime=lambda_.Runtime.PROVIDED_AL2023,
            # The build's (scripts/build-lambda.sh); test_cdk_cli.py checks the asset against it.
            architecture=lambda_.Architecture.X86_64,
            handler="bootstrap",
            code=lambda_.Code.from_asset(str(asset_dir)),
            memory_size=256,
            timeout=Duration.seconds(10),
            role=self.role.without_policy_updates(),
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "TABLE_NAME": table.table_name,
                "TRAINERS_KEYS_TABLE": keys_table.table_name,
                **access_environment(admin_group),
            },
        )


def access_environment(admin_group: str | None) -> dict[str, str]:
    """The variables crates/lambda reads its access rules from: TRAINERS_ACCESS (`open` or
    `owners`) and, with owners, TRAINERS_ADMIN_GROUP."""
    if admin_group is None:
        return {"TRAINERS_ACCESS": "open"}
    return {"TRAINERS_ACCESS": "owners", "TRAINERS_ADMIN_GROUP": admin_group}
