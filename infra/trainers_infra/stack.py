"""The one stack of the Trainers API: the DynamoDB table, the AppSync API and the Rust Lambda
resolver behind every field, with least-privilege IAM and the cdk-nag AwsSolutions checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    Duration,
    Expiration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

INFRA = Path(__file__).resolve().parent.parent
SCHEMA = INFRA.parent / "graphql" / "schema.graphql"
RESOLVER_JS = INFRA / "resolvers" / "trainers.js"

STACK_NAME = "TrainersApi"
INDEX_NAME = "bySpecialty"

# Every field with a resolver: all of Query and Mutation. Subscriptions need none: AppSync
# delivers them from the schema's @aws_subscribe directives.
FIELDS = (
    ("Query", "getTrainer"),
    ("Query", "allTrainers"),
    ("Mutation", "createTrainer"),
    ("Mutation", "updateTrainers"),
    ("Mutation", "deleteTrainer"),
)

# What crates/store-dynamodb does, and nothing else: items by key (conditional writes included,
# and the consistent read after a refused one), the scan of all trainers, and the query of the
# specialty index. No DescribeTable: the function opens the store without it.
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Scan",
)
INDEX_ACTIONS = ("dynamodb:Query",)

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


@dataclass(frozen=True)
class Settings:
    """The stack's settings, read from the CDK context (cdk.json or `-c name=value`)."""

    api_key_expiry_days: int = 7
    destroy_table: bool = False
    lambda_asset_dir: Path = INFRA.parent / "target" / "lambda" / "bootstrap"

    @staticmethod
    def from_context(node) -> Settings:
        days_raw = node.try_get_context("apiKeyExpiryDays")
        try:
            days = 7 if days_raw is None else int(days_raw)
        except (TypeError, ValueError):
            raise ValueError(
                f"apiKeyExpiryDays must be a whole number of days, not {days_raw!r}"
            ) from None
        # AppSync wants a key to live 1 to 365 days when it is made, which is at deploy time,
        # after the synth that fixed its expiry: at least 2 leaves a day for the deploy.
        if not 2 <= days <= 365:
            raise ValueError(f"apiKeyExpiryDays must be 2 to 365, not {days}")
        destroy_raw = node.try_get_context("destroyTable")
        destroy = str(destroy_raw).lower() in ("true", "1", "yes")
        asset_raw = node.try_get_context("lambdaAssetDir")
        asset = Settings.lambda_asset_dir if asset_raw is None else Path(asset_raw)
        if not asset.is_absolute():
            asset = (INFRA / asset).resolve()
        if not (asset / "bootstrap").is_file():
            raise ValueError(
                f"no Lambda asset: {asset}/bootstrap is missing; build it with "
                "scripts/build-lambda.sh (or set -c lambdaAssetDir=DIR)"
            )
        return Settings(api_key_expiry_days=days, destroy_table=destroy, lambda_asset_dir=asset)


def acknowledge(scope: Construct, finding: str, reason: str) -> None:
    """Acknowledges one cdk-nag finding on `scope` (its full id, as cdk-nag prints it), with the
    reason it is accepted."""
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


class TrainersApiStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, settings: Settings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        # --- the table (crates/store-dynamodb's layout) -----------------------------------
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY
            if settings.destroy_table
            else RemovalPolicy.RETAIN,
            deletion_protection=not settings.destroy_table,
        )
        self.table.add_global_secondary_index(
            index_name=INDEX_NAME,
            partition_key=dynamodb.Attribute(name="specialty", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        # --- the Rust Lambda resolver ----------------------------------------------------
        function_logs = logs.LogGroup(
            self,
            "ResolverLogs",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.function_role = iam.Role(
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
                            resources=[self.table.table_arn],
                        ),
                        iam.PolicyStatement(
                            sid="SpecialtyIndex",
                            actions=list(INDEX_ACTIONS),
                            resources=[f"{self.table.table_arn}/index/{INDEX_NAME}"],
                        ),
                        iam.PolicyStatement(
                            sid="Logs",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[function_logs.log_group_arn],
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
            architecture=lambda_.Architecture.X86_64,
            handler="bootstrap",
            code=lambda_.Code.from_asset(str(settings.lambda_asset_dir)),
            memory_size=256,
            timeout=Duration.seconds(10),
            role=self.function_role.without_policy_updates(),
            log_group=function_logs,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={"TABLE_NAME": self.table.table_name},
        )

        # --- the AppSync API ---------------------------------------------------------------
        self.api_logs_role = iam.Role(
            self,
            "ApiLogsRole",
            assumed_by=iam.ServicePrincipal(
                "appsync.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            description="AppSync of the Trainers API: writes its own log group",
        )
        self.api = appsync.GraphqlApi(
            self,
            "Api",
            name="trainers-api",
            definition=appsync.Definition.from_file(str(SCHEMA)),
            authorization_config=appsync.AuthorizationConfig(
                default_authorization=appsync.AuthorizationMode(
                    authorization_type=appsync.AuthorizationType.API_KEY,
                    api_key_config=appsync.ApiKeyConfig(
                        description="Trainers API key",
                        expires=Expiration.after(Duration.days(settings.api_key_expiry_days)),
                    ),
                )
            ),
            xray_enabled=True,
        )
        # Logging is set on the CloudFormation resource itself: the L2's log_config adds CDK's
        # LogRetention custom resource, a second Lambda function with a managed policy and a
        # `*` resource. The log group below sets the retention instead.
        cfn_api: appsync.CfnGraphQLApi = self.api.node.default_child
        cfn_api.log_config = appsync.CfnGraphQLApi.LogConfigProperty(
            cloud_watch_logs_role_arn=self.api_logs_role.role_arn,
            field_log_level="ERROR",
            exclude_verbose_content=True,
        )
        # AppSync writes to /aws/appsync/apis/<api id>; made here to set its retention. The
        # policy is a resource of its own, so that the role need not wait for the API's id.
        api_logs = logs.LogGroup(
            self,
            "ApiLogs",
            log_group_name=f"/aws/appsync/apis/{self.api.api_id}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        iam.Policy(
            self,
            "ApiLogsPolicy",
            roles=[self.api_logs_role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[api_logs.log_group_arn],
                )
            ],
        )

        # --- the Lambda data source and the resolvers of all five fields ------------------
        self.data_source_role = iam.Role(
            self,
            "DataSourceRole",
            assumed_by=iam.ServicePrincipal(
                "appsync.amazonaws.com",
                conditions={"ArnLike": {"aws:SourceArn": self.api.arn}},
            ),
            description="AppSync of the Trainers API: invokes the resolver function, only it",
            inline_policies={
                "InvokeResolver": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["lambda:InvokeFunction"],
                            resources=[self.function.function_arn],
                        )
                    ]
                )
            },
        )
        data_source = appsync.LambdaDataSource(
            self,
            "ResolverSource",
            api=self.api,
            lambda_function=self.function,
            name="TrainersResolver",
            description="The Rust Lambda resolver",
            # Its one permission is the inline policy above; CDK's own grant would add fnArn:*.
            service_role=self.data_source_role.without_policy_updates(),
        )
        code = appsync.Code.from_inline(RESOLVER_JS.read_text(encoding="utf-8"))
        for type_name, field_name in FIELDS:
            appsync.Resolver(
                self,
                f"{type_name}{field_name[0].upper()}{field_name[1:]}Resolver",
                api=self.api,
                type_name=type_name,
                field_name=field_name,
                data_source=data_source,
                runtime=appsync.FunctionRuntime.JS_1_0_0,
                code=code,
            )

        # --- outputs -------------------------------------------------------------------------
        api_key = self.api.node.find_child("DefaultApiKey")
        CfnOutput(self, "GraphQLUrl", value=self.api.graphql_url, description="POST GraphQL here")
        CfnOutput(
            self,
            "RealtimeUrl",
            value=cfn_api.attr_realtime_url,
            description="AppSync's real-time (WebSocket) endpoint, for subscriptions",
        )
        CfnOutput(
            self,
            "ApiKeyId",
            value=api_key.attr_api_key_id,
            description="The API key's id, which AppSync also takes as the x-api-key header",
        )
        CfnOutput(self, "ApiId", value=self.api.api_id, description="The AppSync API id")
        CfnOutput(
            self,
            "TableName",
            value=self.table.table_name,
            description="For trainers serve --store dynamodb --table",
        )

        # --- cdk-nag: what is accepted, and why ---------------------------------------------
        acknowledge(
            self.api,
            "AwsSolutions::AwsSolutions-ASC3",
            "Field logs are at ERROR level on purpose: request-level logging (ALL) would write "
            "every argument, trainers' names included, to CloudWatch, and bill for each request. "
            "Errors are logged, and X-Ray traces every request.",
        )


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
