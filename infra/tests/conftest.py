"""Fixtures of the CDK app's tests: stacks synthesized offline, with a stand-in Lambda asset
(the real one is built by scripts/build-lambda.sh and checked by test_cdk_cli.py)."""

from __future__ import annotations

import os
from pathlib import Path

# jsii warns on every start about the Node.js version; the tests do not need the noise. (Set
# before jsii starts, on the first import of aws_cdk.)
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from trainers_infra.settings import Settings
from trainers_infra.stack import STACK_NAME, TrainersApiStack, build_app

INFRA = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def fake_asset(tmp_path_factory) -> Path:
    """A directory holding a stand-in `bootstrap`, for synths that do not need the real one."""
    d = tmp_path_factory.mktemp("asset")
    (d / "bootstrap").write_text("#!/bin/sh\necho stand-in\n")
    (d / "bootstrap").chmod(0o755)
    return d


def make_app(tmp_path_factory, fake_asset: Path, **context) -> cdk.App:
    ctx = {"lambdaAssetDir": str(fake_asset), **context}
    return cdk.App(context=ctx, outdir=str(tmp_path_factory.mktemp("cdk.out")))


@pytest.fixture(scope="session")
def nagged(tmp_path_factory, fake_asset):
    """The app as app.py builds it (cdk-nag on, default context), synthesized once:
    (app, stack, cloud assembly directory)."""
    app = make_app(tmp_path_factory, fake_asset)
    stack = build_app(app)
    assembly = app.synth()
    return app, stack, Path(assembly.directory)


@pytest.fixture(scope="session")
def template(nagged) -> Template:
    _, stack, _ = nagged
    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def resources(template) -> dict:
    return template.to_json()["Resources"]


def stack_template(tmp_path_factory, fake_asset, **context) -> Template:
    """A stack with other context values, without cdk-nag (synthesized faster)."""
    app = make_app(tmp_path_factory, fake_asset, **context)
    stack = TrainersApiStack(app, STACK_NAME, Settings.from_context(app.node))
    return Template.from_stack(stack)
