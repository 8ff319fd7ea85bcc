"""The DynamoDB table of the DynamoDB store (crates/store-dynamodb's layout)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from trainers_infra.group import Group

INDEX_NAME = "bySpecialty"
# trainersBySpecialty: one specialty's trainers in `lastName` order, a key condition on it.
LAST_NAME_INDEX_NAME = "bySpecialtyLastName"
# Every index the DynamoDB store queries (and the function may query).
INDEX_NAMES = (INDEX_NAME, LAST_NAME_INDEX_NAME)


class TrainersTable(Group):
    """The trainers by `id`, and two indexes: `bySpecialty` (`specialty`, then `id`) and
    `bySpecialtyLastName` (`specialty`, then `lastName`); beside it, `<table>-keys`, where the
    function keeps the secret that signs page tokens (`secret#page-token`, as `trainers serve`
    does: a server on the same table then shares it). Both on demand, with point-in-time
    recovery and encryption at rest; kept, and protected from deletion, unless `destroy`."""

    def __init__(self, scope: Construct, construct_id: str, *, destroy: bool) -> None:
        super().__init__(scope, construct_id)
        # Both tables: by `id`, on demand, recoverable, encrypted, kept unless `destroy`.
        settings = {
            "partition_key": dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
            "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            "encryption": dynamodb.TableEncryption.AWS_MANAGED,
            "removal_policy": RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
            "deletion_protection": not destroy,
        }
        self.table = dynamodb.Table(self, "Table", **settings)
        self.table.add_global_secondary_index(
            index_name=INDEX_NAME,
            partition_key=dynamodb.Attribute(name="specialty", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # CloudFormation adds one global secondary index per stack update: an update that adds
        # this one to a deployed table builds it (backfilling every item) before it completes.
        self.table.add_global_secondary_index(
            index_name=LAST_NAME_INDEX_NAME,
            partition_key=dynamodb.Attribute(name="specialty", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="lastName", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.keys_table = dynamodb.Table(
            self,
            "KeysTable",
            # crates/store-dynamodb's keys_table_name: `trainers serve --table T` finds it.
            table_name=f"{self.table.table_name}-keys",
            **settings,
        )
