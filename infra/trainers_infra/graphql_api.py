"""The AppSync API: the schema, API-key auth (and Cognito users', with accounts), its logs, and
the Lambda resolver behind every field."""

from __future__ import annotations

import re

from aws_cdk import Acknowledgment, Duration, Expiration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from trainers_infra.group import Group
from trainers_infra.settings import INFRA, LOG_RETENTION

SCHEMA = INFRA.parent / "graphql" / "schema.graphql"
RESOLVER_JS = INFRA / "resolvers" / "trainers.js"
SUBSCRIPTIONS_JS = INFRA / "resolvers" / "subscriptions.js"

# Every field the Lambda resolves: all of Query and Mutation.
FIELDS = (
    ("Query", "getTrainer"),
    ("Query", "allTrainers"),
    ("Query", "trainersBySpecialty"),
    ("Query", "countTrainers"),
    ("Mutation", "createTrainer"),
    ("Mutation", "updateTrainers"),
    ("Mutation", "deleteTrainer"),
)

# Every subscription: AppSync delivers them from the schema's @aws_subscribe directives; their
# resolver (resolvers/subscriptions.js, on a NONE data source) only sets the enhanced filter of
# the subscription's `filter`, `id` and `specialty`.
SUBSCRIPTION_FIELDS = (
    ("Subscription", "onCreateTrainer"),
    ("Subscription", "onUpdateTrainer"),
    ("Subscription", "onDeleteTrainer"),
)


class TrainersGraphqlApi(Group):
    """AppSync serving graphql/schema.graphql with an API key that expires after
    `api_key_expiry_days`, error logs in its own log group and X-Ray tracing; every field of
    FIELDS resolved by `resolver` (resolvers/trainers.js around a direct Lambda invocation), and
    every subscription filtered by resolvers/subscriptions.js.

    With a `user_pool` (accounts), its users signed in with `user_pool_client` are a second
    authorization mode, beside the API key (still the default): the schema's directives say
    which mode may call what. Without one, the API key is the only mode, and the schema is
    served as api_key_only() rewrites it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_key_expiry_days: int,
        resolver: lambda_.IFunction,
        user_pool: cognito.IUserPool | None = None,
        user_pool_client: cognito.IUserPoolClient | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.logs_role = iam.Role(
            self,
            "ApiLogsRole",
            assumed_by=iam.ServicePrincipal(
                "appsync.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="AppSync of the Trainers API: writes its own log group",
        )
        additional_modes = []
        if user_pool is not None:
            additional_modes.append(
                appsync.AuthorizationMode(
                    authorization_type=appsync.AuthorizationType.USER_POOL,
                    user_pool_config=appsync.UserPoolConfig(
                        user_pool=user_pool,
                        # The tokens of this app client only, as `--auth-client-id` does.
                        app_id_client_regex=(
                            None
                            if user_pool_client is None
                            else user_pool_client.user_pool_client_id
                        ),
                    ),
                )
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
                        expires=Expiration.after(Duration.days(api_key_expiry_days)),
                    ),
                ),
                additional_authorization_modes=additional_modes,
            ),
            xray_enabled=True,
        )
        self.api_key: appsync.CfnApiKey = self.api.node.find_child("DefaultApiKey")
        self.cfn_schema: appsync.CfnGraphQLSchema = self.api.node.find_child("Schema")
        if user_pool is None:
            # AppSync refuses a schema that names a mode the API lacks (the file names Cognito's).
            self.cfn_schema.definition = api_key_only(SCHEMA.read_text(encoding="utf-8"))
        # Logging is set on the CloudFormation resource itself: the L2's log_config adds CDK's
        # LogRetention custom resource, a second Lambda function with a managed policy and a
        # `*` resource. The log group below sets the retention instead.
        self.cfn_api: appsync.CfnGraphQLApi = self.api.node.default_child
        self.cfn_api.log_config = appsync.CfnGraphQLApi.LogConfigProperty(
            cloud_watch_logs_role_arn=self.logs_role.role_arn,
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
            roles=[self.logs_role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[api_logs.log_group_arn],
                )
            ],
        )
        self._resolve_every_field_with(resolver)
        self._filter_every_subscription()

        acknowledge(
            self,
            "AwsSolutions::AwsSolutions-ASC3",
            "Field logs are at ERROR level on purpose: request-level logging (ALL) would write "
            "every argument, trainers' names included, to CloudWatch, and bill for each request. "
            "Errors are logged, and X-Ray traces every request.",
        )

    def _resolve_every_field_with(self, function: lambda_.IFunction) -> None:
        """The Lambda data source, with a role that may invoke `function` only, and the resolver
        of every field of FIELDS on it."""
        data_source_role = iam.Role(
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
                            resources=[function.function_arn],
                        )
                    ]
                )
            },
        )
        data_source = appsync.LambdaDataSource(
            self,
            "ResolverSource",
            api=self.api,
            lambda_function=function,
            name="TrainersResolver",
            description="The Rust Lambda resolver",
            # Its one permission is the inline policy above; CDK's own grant would add fnArn:*.
            service_role=data_source_role.without_policy_updates(),
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

    def _filter_every_subscription(self) -> None:
        """A NONE data source (no role: it reaches nothing) and the resolver of every field of
        SUBSCRIPTION_FIELDS on it: AppSync's enhanced filtering of the subscription's arguments."""
        data_source = appsync.NoneDataSource(
            self,
            "SubscriptionSource",
            api=self.api,
            name="Subscriptions",
            description="Nothing: the subscriptions' resolvers only set their filters",
        )
        code = appsync.Code.from_inline(SUBSCRIPTIONS_JS.read_text(encoding="utf-8"))
        for type_name, field_name in SUBSCRIPTION_FIELDS:
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


# A run of directives (`@name`, or `@name(arguments)`) one after the other.
DIRECTIVE_RUN = re.compile(r"@\w+(?:\([^)]*\))?(?:\s+@\w+(?:\([^)]*\))?)*")
DIRECTIVE = re.compile(r"@\w+(?:\([^)]*\))?")


def api_key_only(sdl: str) -> str:
    """The schema `sdl` for an API whose only mode is the API key: every `@aws_cognito_user_pools`
    becomes `@aws_api_key` (which AppSync accepts with the API key alone, as the tutorial's
    schema had it), once in each run of directives. What Cognito's users alone could call, the
    API key then calls, as it did everything before accounts; the rest is left as it is."""

    def rewrite(run: re.Match) -> str:
        directives = DIRECTIVE.findall(run.group(0))
        if "@aws_cognito_user_pools" not in (d.split("(")[0] for d in directives):
            return run.group(0)
        kept: list[str] = []
        for d in directives:
            d = "@aws_api_key" if d.split("(")[0] == "@aws_cognito_user_pools" else d
            if d not in kept:
                kept.append(d)
        return " ".join(kept)

    return DIRECTIVE_RUN.sub(rewrite, sdl)


def acknowledge(scope: Construct, finding: str, reason: str) -> None:
    """Acknowledges one cdk-nag finding on `scope` and what it holds (its full id, as cdk-nag
    prints it), with the reason it is accepted."""
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
