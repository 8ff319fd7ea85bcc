"""One real `cdk synth`, by the CLI of tools/node_modules (aws-cdk 2.1148.x), with the real
Lambda asset of scripts/build-lambda.sh and cdk-nag on. Offline: no telemetry, no version
check, no notices. Skipped when the asset or the CLI is missing, unless
TRAINERS_REQUIRE_LAMBDA_ASSET is set (scripts/test.sh sets it, after building both)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import INFRA
from test_stack import EXPECTED_TYPES

REPO = INFRA.parent
ASSET = REPO / "target" / "lambda" / "bootstrap" / "bootstrap"
CDK = REPO / "tools" / "node_modules" / ".bin" / "cdk"

# An ELF header's e_machine, and Lambda's name for that architecture.
LAMBDA_ARCHITECTURES = {62: "x86_64", 183: "arm64"}


def need(path: Path, how: str) -> None:
    if path.exists():
        return
    message = f"{path} is missing: {how}"
    if os.environ.get("TRAINERS_REQUIRE_LAMBDA_ASSET"):
        pytest.fail(message)
    pytest.skip(message)


def test_cdk_synth_with_the_real_lambda_asset(tmp_path):
    need(ASSET, "run scripts/build-lambda.sh")
    need(CDK, "run scripts/setup-tools.sh")
    env = {
        **os.environ,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        # cdk.json runs `python3 app.py`: the Python of these tests, with aws-cdk-lib.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("CDK_VALIDATION", None)
    out = tmp_path / "cdk.out"
    proc = subprocess.run(
        [str(CDK), "synth", "--no-notices", "--quiet", "--output", str(out)],
        cwd=INFRA,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    template = json.loads((out / "TrainersApi.template.json").read_text())
    counts: dict[str, int] = {}
    for r in template["Resources"].values():
        counts[r["Type"]] = counts.get(r["Type"], 0) + 1
    assert counts == EXPECTED_TYPES

    # The function's code is the built bootstrap, byte for byte.
    (fn,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    asset_hash = fn["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    staged = out / f"asset.{asset_hash}" / "bootstrap"
    assert staged.read_bytes() == ASSET.read_bytes()
    assert os.access(staged, os.X_OK)

    report = json.loads((out / "validation-report.json").read_text())
    assert [v for p in report["pluginReports"] for v in p.get("violations", [])] == []


def test_the_lambda_asset_is_built_for_the_functions_architecture(template):
    """Lambda cannot run a `bootstrap` of another architecture than the function's: the build
    (scripts/build-lambda.sh) and the stack must change together."""
    need(ASSET, "run scripts/build-lambda.sh")
    header = ASSET.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{ASSET} is not an ELF executable"
    assert header[4:6] == b"\x02\x01", f"{ASSET} is not 64-bit little-endian"
    machine = int.from_bytes(header[18:20], "little")
    built_for = LAMBDA_ARCHITECTURES.get(machine, f"ELF e_machine {machine}")
    template.has_resource_properties("AWS::Lambda::Function", {"Architectures": [built_for]})
