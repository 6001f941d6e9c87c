"""Both environments, built as app.py builds them and synthesized once per test session.

The account is set on purpose: with an account, VPC and RDS would look availability zones up, which
needs credentials. Synth must not, so the stacks' explicit zones are what keep this offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.config import DEV, ENVIRONMENTS, PROD, EnvironmentConfig, with_context
from stacks.shop import ShopEnvironment, add_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
PARTS = ("Network", "Data", "Services")


def cdk_json_context() -> dict:
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


@pytest.fixture(scope="session")
def cdk_outdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def shop(cdk_outdir) -> dict[str, ShopEnvironment]:
    """{"dev": ..., "prod": ...}; synth raises if cdk-nag reports any unacknowledged finding."""
    app = App(context=cdk_json_context(), outdir=str(cdk_outdir))
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
