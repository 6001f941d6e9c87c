import importlib.util
import json
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.ci_stack import CiStack

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "sweetdream-shop/sweetdream"
ACCOUNT = "123456789012"


@pytest.fixture(scope="session")
def ci_stack() -> CiStack:
    """The CI stack as app.py builds it (cdk.json's feature flags, the cdk-nag gate), synthesized once."""
    app = App(context=json.loads((ROOT / "cdk.json").read_text())["context"])
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = CiStack(app, "SweetDream-CI", github_repository=REPOSITORY,
                    dev_env=Environment(account=ACCOUNT, region="us-east-1"),
                    prod_env=Environment(account=ACCOUNT, region="us-west-2"),
                    env=Environment(account=ACCOUNT, region="us-east-1"))
    # Raises if any AwsSolutions finding is left unacknowledged.
    app.synth()
    return stack


@pytest.fixture(scope="session")
def ci_template(ci_stack) -> Template:
    return Template.from_stack(ci_stack)


def load_script(name: str):
    """Import one of .github/scripts/*.py (the folder is not a package)."""
    path = ROOT / ".github" / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"github_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
