import pytest
from aws_cdk import App, Environment, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.ci_stack import CiStack

REPOSITORY = "sweetdream-shop/sweetdream"
ACCOUNT = "123456789012"


@pytest.fixture(scope="session")
def ci_stack() -> CiStack:
    """The CI stack as app.py builds it, synthesized once with the cdk-nag gate on."""
    app = App()
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
