#!/usr/bin/env python3
"""CDK entry point: SweetDream dev (us-east-1) and prod (us-west-2), plus the CI stack on request.

    npx cdk synth                             # offline: no AWS credentials, no Docker, no lookups
    npx cdk deploy 'SweetDream-Dev-*'

Every difference between the environments lives in stacks/config.py; account-specific values come
from CDK context (cdk.json or -c). cdk-nag's AwsSolutions pack checks every synth and fails it on
any finding that is not acknowledged with a reason.
"""

import os
import sys

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.ci_stack import CiStack
from stacks.config import (
    ACCOUNT_CONTEXT_KEY,
    APP_NAME,
    DEV,
    ENVIRONMENTS,
    PROD,
    EnvironmentContextError,
    with_context,
)
from stacks.shop import add_environment

# The environment variables the app reads, both set by tools: the CDK CLI sets the account when
# credentials are available; GitHub Actions sets the repository its workflows run in.
ACCOUNT = os.environ.get("CDK_DEFAULT_ACCOUNT")
GITHUB_REPOSITORY = os.environ.get("GITHUB_REPOSITORY")


def main() -> None:
    app = App()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    account = app.node.try_get_context(ACCOUNT_CONTEXT_KEY) or ACCOUNT
    for config in ENVIRONMENTS:
        try:
            environment = with_context(config, app.node.try_get_context, account=account)
        except EnvironmentContextError as error:
            # Only this environment's stacks need the setting (prod's certificate, in an account
            # that has none yet): leave them out, so the other environment still synthesizes and
            # deploys, and selecting these stacks fails ("No stacks match") after this reason. An
            # error annotation cannot do this: with @aws-cdk/core:annotationsInValidationReport it
            # fails the synth of every stack.
            print(f"{config.stack_prefix}-* left out: {error}", file=sys.stderr)
            continue
        add_environment(app, environment)

    # The GitHub OIDC roles, deployed once per account by hand (see README "CI"). No fixed default:
    # roles trusting a repository that is not ours would hand our account to its owner.
    github_repository = app.node.try_get_context("githubRepository") or GITHUB_REPOSITORY
    if github_repository:
        CiStack(
            app,
            f"{APP_NAME}-CI",
            github_repository=github_repository,
            dev_env=Environment(account=account, region=DEV.region),
            prod_env=Environment(account=account, region=PROD.region),
            existing_oidc_provider_arn=app.node.try_get_context("existingOidcProviderArn"),
            env=Environment(account=account, region=DEV.region),
        )
    app.synth()


if __name__ == "__main__":
    main()
