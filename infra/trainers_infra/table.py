"""The DynamoDB table of the DynamoDB store (crates/store-dynamodb's layout)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from trainers_infra.group import Group

INDEX_NAME = "bySpecialty"


class TrainersTable(Group):
    """The trainers by `id`, and the index `bySpecialty` (`specialty`, then `id`): on demand,
    with point-in-time recovery and encryption at rest. Kept, and protected from deletion,
    unless `destroy`."""

    def __init__(self, scope: Construct, construct_id: str, *, destroy: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
            deletion_protection=not destroy,
        )
        self.table.add_global_secondary_index(
            index_name=INDEX_NAME,
            partition_key=dynamodb.Attribute(name="specialty", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
