"""Both environments, built as app.py builds them and synthesized once per test session.

The account is set on purpose: with an account, VPC and RDS would look availability zones up, which
needs credentials. Synth must not, so the stacks' explicit zones are what keep this offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.config import DEV, ENVIRONMENTS, PROD, EnvironmentConfig, with_context
from stacks.shop import ShopEnvironment, add_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
CERTIFICATE = f"arn:aws:acm:us-west-2:{ACCOUNT}:certificate/0d4c1f6e-5b7a-4d2e-9a3c-7e8f9a0b1c2d"
PARTS = ("Network", "Data", "Services")


def cdk_json_context() -> dict:
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


@pytest.fixture(scope="session")
def cdk_outdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


def offline_cli_env(home: Path) -> dict[str, str]:
    """The environment for the pinned CDK CLI with no AWS credentials anywhere."""
    node_bin = REPO_ROOT / "node_modules" / ".bin"
    assert (node_bin / "cdk").exists() and (node_bin / "node").exists(), "run `npm ci` (make test does)"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    env.update(
        {
            "HOME": str(home),  # no ~/.aws/credentials, no ~/.aws/config
            "AWS_CONFIG_FILE": str(home / "missing-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "missing-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": os.pathsep.join([str(REPO_ROOT / ".venv" / "bin"), str(node_bin), env.get("PATH", "")]),
            "JSII_NODE": str(node_bin / "node"),
        }
    )
    return env


def start_cli_synth(home: Path, outdir: Path, *args: str) -> tuple[subprocess.Popen, object]:
    """`npx cdk synth --quiet --output outdir *args`, offline, started now; (process, its log file)."""
    npx = shutil.which("npx") or "npx"  # npm's own; it finds the pinned `cdk` in node_modules/.bin
    log = (home / "synth.log").open("w+")  # a file, not a pipe: nothing can block on a full buffer
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        [npx, "cdk", "synth", "--quiet", "--output", str(outdir), *args],
        cwd=REPO_ROOT,
        env=offline_cli_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, log


@pytest.fixture(scope="session")
def cli_synth_started(tmp_path_factory):
    """`npx cdk synth` (every stack) with no AWS credentials anywhere, started now, awaited by its test."""
    home = tmp_path_factory.mktemp("home")
    outdir = tmp_path_factory.mktemp("cli.out")
    process, log = start_cli_synth(home, outdir)
    yield process, outdir, log
    if process.poll() is None:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture(scope="session")
def shop(cdk_outdir, cli_synth_started) -> dict[str, ShopEnvironment]:
    """{"dev": ..., "prod": ...}; synth raises if cdk-nag reports any unacknowledged finding.

    Built while the CLI synth (`cli_synth_started`) runs in its own process.
    """
    # The dev bastion is on here (cdk.json leaves it off, which the CLI synth covers).
    context = {
        **cdk_json_context(),
        "sweetdream:dev:bastion": True,
        "sweetdream:prod:certificateArn": CERTIFICATE,
    }
    app = App(context=context, outdir=str(cdk_outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    environments = {
        config.name: add_environment(app, with_context(config, app.node.try_get_context, account=ACCOUNT))
        for config in ENVIRONMENTS
    }
    app.synth()
    return environments


@pytest.fixture(scope="session")
def templates(shop) -> dict[tuple[str, str], Template]:
    """Template per (environment, stack part), e.g. templates["prod", "Services"]."""
    result = {}
    for name, environment in shop.items():
        for part, stack in zip(
            PARTS, (environment.network, environment.data, environment.services), strict=True
        ):
            result[name, part] = Template.from_stack(stack)
        if environment.bastion is not None:
            result[name, "Bastion"] = Template.from_stack(environment.bastion)
    return result


@pytest.fixture(params=[DEV.name, PROD.name])
def config(request, shop) -> EnvironmentConfig:
    """Each environment's config as the app used it (context merged in)."""
    return shop[request.param].config


@pytest.fixture
def network(templates, config) -> Template:
    return templates[config.name, "Network"]


@pytest.fixture
def data(templates, config) -> Template:
    return templates[config.name, "Data"]


@pytest.fixture
def services(templates, config) -> Template:
    return templates[config.name, "Services"]
