"""cdk-nag's AwsSolutions checks: no finding left unacknowledged, and every acknowledgement
carries its reason in the code."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from conftest import make_app
from trainers_infra.stack import build_app


def test_awssolutions_reports_no_unacknowledged_finding(nagged):
    # The synth itself fails on a finding; the report says so too.
    _, _, out = nagged
    report = json.loads((out / "validation-report.json").read_text())
    violations = [v for p in report["pluginReports"] for v in p.get("violations", [])]
    assert violations == []


def test_every_acknowledgement_has_its_reason(nagged):
    app, _, _ = nagged
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for c in app.node.find_all():
        for entry in c.node.metadata:
            if entry.type == key:
                # {finding id: reason}
                found += [(c.node.path, rule, reason) for rule, reason in entry.data.items()]
    assert [(path, rule) for path, rule, _ in found] == [
        # Optional MFA, and the Essentials feature plan (trainers_infra/accounts.py).
        ("TrainersApi/Accounts", "AwsSolutions::AwsSolutions-COG2"),
        ("TrainersApi/Accounts", "AwsSolutions::AwsSolutions-COG8"),
        ("TrainersApi/Api", "AwsSolutions::AwsSolutions-ASC3"),
    ]
    for path, rule, reason in found:
        assert len(reason) > 40, (path, rule, reason)


def test_the_checks_do_run(tmp_path_factory, fake_asset):
    """The same app with one role on a managed policy does not synthesize."""
    app = make_app(tmp_path_factory, fake_asset)
    stack = build_app(app)
    iam.Role(
        stack,
        "Careless",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonDynamoDBFullAccess")
        ],
    )
    with pytest.raises(Exception, match=r"AwsSolutions-IAM4\[Policy::.*AmazonDynamoDBFullAccess\]"):
        app.synth()
