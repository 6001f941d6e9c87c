"""SweetDream-CI: short-lived AWS access for GitHub Actions through OIDC, scoped to one repository.

No long-lived AWS key exists anywhere. A pull request can change the workflow it runs, so the role
it gets must be harmless in anyone's hands:

- diff role (pull requests, and main before the `production` approval): reads this app's stacks'
  templates and descriptions, nothing else: enough for `cdk diff --method=template`, which then runs
  on these credentials. Not even the bootstrap lookup role, which is AWS's ReadOnlyAccess: it could
  read every S3 object and log in the account.
The deploy roles may only assume CDK bootstrap roles (the CLI does the rest through them), so what
they can do is bounded by the bootstrap stacks:
- dev deploy role (the `dev` branch): the deploy and asset publishing roles in the dev region.
- prod deploy role (the `production` GitHub environment, which has required reviewers): the same
  roles in the prod region.
Not the lookup role either: synth makes no lookups, and that role's ReadOnlyAccess is account-wide,
so it would let the dev branch read prod's data when both share an account. The bootstrap deploy
role's own CloudFormation rights are not scoped to its region: only separate accounts keep a push to
`dev` away from prod (README "What each role may do").
"""

from __future__ import annotations

import re

from aws_cdk import CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from .base import acknowledge_wildcard_resource
from .config import APP_NAME

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
# The qualifier `cdk bootstrap` uses unless told otherwise.
DEFAULT_BOOTSTRAP_QUALIFIER = "hnb659fds"
# What `cdk diff --method=template` reads of a deployed stack when it runs on the role's own credentials.
DIFF_STACK_ACTIONS = ("cloudformation:DescribeStacks", "cloudformation:GetTemplate")
# No "lookup": synth needs none (explicit AZs, no context providers); `cdk diff` and `deploy` read the
# deployed template through the deploy role when the lookup role cannot be assumed.
DEPLOY_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing")

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_QUALIFIER = re.compile(r"^[a-z0-9]{1,10}$")


def github_subject(repository: str, scope: str) -> str:
    """The `sub` claim GitHub puts in a job's OIDC token, e.g. `repo:owner/name:pull_request`."""
    return f"repo:{repository}:{scope}"


class CiStack(Stack):
    """The GitHub OIDC provider and the three CI roles. Deploy it once per account, by hand."""

    def __init__(self, scope: Construct, construct_id: str, *, github_repository: str,
                 dev_env: Environment, prod_env: Environment,
                 bootstrap_qualifier: str = DEFAULT_BOOTSTRAP_QUALIFIER,
                 existing_oidc_provider_arn: str | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not _REPOSITORY.match(github_repository):
            raise ValueError(f"github_repository must look like 'owner/name', got {github_repository!r}")
        if not _QUALIFIER.match(bootstrap_qualifier):
            raise ValueError(f"bootstrap_qualifier must be 1-10 lowercase letters or digits, "
                             f"got {bootstrap_qualifier!r}")
        for name, env in (("dev_env", dev_env), ("prod_env", prod_env)):
            if not env.region:
                raise ValueError(f"{name} needs a region: the roles are scoped to it")
        self.github_repository = github_repository
        self._qualifier = bootstrap_qualifier

        # An account holds one provider per URL; reuse it if another stack already created it.
        if existing_oidc_provider_arn:
            self.oidc_provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self, "GitHubOidcProvider", existing_oidc_provider_arn)
        else:
            self.oidc_provider = iam.OidcProviderNative(
                self, "GitHubOidcProvider", url=f"https://{GITHUB_OIDC_HOST}",
                client_ids=[STS_AUDIENCE])

        # Main too, in a job without an environment, so the `production` approver reads the prod diff
        # before approving. Whoever can push to main can open a pull request, which already gets this role.
        self.diff_role = self._github_role(
            "DiffRole", subjects=[github_subject(github_repository, "pull_request"),
                                  github_subject(github_repository, "ref:refs/heads/main")],
            description=f"GitHub Actions on pull requests and main: cdk diff, reading only the {APP_NAME} "
                        "stacks",
            max_session=Duration.hours(1))
        self._allow_template_reads(self.diff_role, [dev_env, prod_env])
        # Deploys chain from this session into the bootstrap roles and then wait on CloudFormation;
        # a first prod deploy (Multi-AZ RDS) can outlast one hour.
        self.dev_deploy_role = self._github_role(
            "DevDeployRole", subjects=[github_subject(github_repository, "ref:refs/heads/dev")],
            description="GitHub Actions on the dev branch: cdk deploy of the dev stacks",
            max_session=Duration.hours(2))
        self._allow_bootstrap_roles(self.dev_deploy_role, [dev_env])
        self.prod_deploy_role = self._github_role(
            "ProdDeployRole", subjects=[github_subject(github_repository, "environment:production")],
            description="GitHub Actions in the production environment: cdk deploy of the prod stacks",
            max_session=Duration.hours(2))
        self._allow_bootstrap_roles(self.prod_deploy_role, [prod_env])

        for output_id, role, variable in (
                ("DiffRoleArn", self.diff_role, "AWS_DIFF_ROLE_ARN"),
                ("DevDeployRoleArn", self.dev_deploy_role, "AWS_DEV_DEPLOY_ROLE_ARN"),
                ("ProdDeployRoleArn", self.prod_deploy_role, "AWS_PROD_DEPLOY_ROLE_ARN")):
            CfnOutput(self, output_id, value=role.role_arn,
                      description=f"GitHub repository variable {variable}")

    def bootstrap_role_arn(self, kind: str, env: Environment) -> str:
        """ARN of one CDK bootstrap role, e.g. `cdk-hnb659fds-deploy-role-<account>-<region>`."""
        account = env.account or self.account
        return self.format_arn(
            service="iam", region="", account=account, resource="role",
            resource_name=f"cdk-{self._qualifier}-{kind}-role-{account}-{env.region}")

    def _github_role(self, construct_id: str, *, subjects: list[str], description: str,
                     max_session: Duration) -> iam.Role:
        principal = iam.OpenIdConnectPrincipal(self.oidc_provider, conditions={
            "StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                # A list matches any one of its values.
                f"{GITHUB_OIDC_HOST}:sub": subjects[0] if len(subjects) == 1 else subjects,
            },
        })
        return iam.Role(self, construct_id, assumed_by=principal, description=description,
                        max_session_duration=max_session)

    def _allow_bootstrap_roles(self, role: iam.Role, targets: list[Environment]) -> None:
        role.add_to_policy(iam.PolicyStatement(
            sid="AssumeCdkBootstrapRoles", actions=["sts:AssumeRole"],
            resources=[self.bootstrap_role_arn(kind, env) for env in targets
                       for kind in DEPLOY_BOOTSTRAP_ROLES]))

    def _allow_template_reads(self, role: iam.Role, targets: list[Environment]) -> None:
        stacks = [self.format_arn(service="cloudformation", region=env.region,
                                  account=env.account or self.account, resource="stack",
                                  resource_name=f"{APP_NAME}-*/*") for env in targets]
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadAppStackTemplates", actions=list(DIFF_STACK_ACTIONS), resources=stacks))
        versions = [self.format_arn(service="ssm", region=env.region, account=env.account or self.account,
                                    resource="parameter",
                                    resource_name=f"cdk-bootstrap/{self._qualifier}/version")
                    for env in targets]
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadBootstrapVersion", actions=["ssm:GetParameter"], resources=versions))
        for stack in stacks:
            acknowledge_wildcard_resource(
                role, stack, f"Stack ARNs end in a generated id; `{APP_NAME}-*` names only this app's "
                "stacks, and describing one or reading its template reaches no data.")
