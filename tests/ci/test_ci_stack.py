"""The CI roles trust only this repository's pull requests, main and dev branches and production
environment."""

import pytest
from aws_cdk import App, Environment
from aws_cdk.assertions import Template

from stacks.ci_stack import CiStack
from tests.ci.conftest import ACCOUNT, REPOSITORY

OIDC_ISSUER = "token.actions.githubusercontent.com"


def _trusted_subjects(role: dict) -> list[str]:
    subjects = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"][
        f"{OIDC_ISSUER}:sub"]
    return subjects if isinstance(subjects, list) else [subjects]


def _role_logical_id(template: Template, subject: str) -> str:
    roles = [logical_id for logical_id, role in template.find_resources("AWS::IAM::Role").items()
             if subject in _trusted_subjects(role)]
    assert len(roles) == 1, f"expected exactly one role trusting {subject}, found {roles}"
    return roles[0]


def _assumable_role_names(template: Template, role_logical_id: str) -> list[str]:
    """Names of the roles a CI role may assume, from its inline policy."""
    statements = _policy_statements(template, role_logical_id)
    assert [s["Action"] for s in statements] == ["sts:AssumeRole"]
    assert all(s["Effect"] == "Allow" for s in statements)
    resources = statements[0]["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    return [_arn_text(r).split(":role/", 1)[1] for r in resources]


def _policy_statements(template: Template, role_logical_id: str) -> list[dict]:
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {
        "Roles": [{"Ref": role_logical_id}]}})
    assert len(policies) == 1
    return next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]


def _arn_text(value) -> str:
    """An ARN as text, with `${Ref}` for the parts CloudFormation fills in (partition, account)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    separator, parts = value["Fn::Join"]
    return separator.join(_arn_text(part) for part in parts)


def test_github_oidc_provider_with_sts_audience(ci_template):
    ci_template.resource_count_is("AWS::IAM::OIDCProvider", 1)
    ci_template.has_resource_properties("AWS::IAM::OIDCProvider", {
        "Url": f"https://{OIDC_ISSUER}",
        "ClientIdList": ["sts.amazonaws.com"],
    })


@pytest.mark.parametrize(("role", "subjects"), [
    # Main's token has no environment: the prod-diff job that runs before the `production` approval.
    ("diff_role", [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/main"]),
    ("dev_deploy_role", f"repo:{REPOSITORY}:ref:refs/heads/dev"),
    ("prod_deploy_role", f"repo:{REPOSITORY}:environment:production"),
])
def test_role_trusts_exactly_these_subjects_of_this_repository(ci_stack, ci_template, role, subjects):
    logical_id = ci_stack.get_logical_id(getattr(ci_stack, role).node.default_child)
    trust = ci_template.to_json()["Resources"][logical_id]["Properties"]["AssumeRolePolicyDocument"]
    (provider,) = ci_template.find_resources("AWS::IAM::OIDCProvider")
    assert trust == {"Version": "2012-10-17", "Statement": [{
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Effect": "Allow",
        "Principal": {"Federated": {"Ref": provider}},
        # StringEquals, not StringLike: no wildcard can widen the trust.
        "Condition": {"StringEquals": {
            f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
            f"{OIDC_ISSUER}:sub": subjects,
        }},
    }]}


def test_only_three_roles_and_each_has_one_trust_statement(ci_template):
    roles = ci_template.find_resources("AWS::IAM::Role")
    assert len(roles) == 3
    for role in roles.values():
        statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert len(statements) == 1
        assert set(statements[0]["Principal"]) == {"Federated"}


@pytest.mark.parametrize("scope", ["pull_request", "ref:refs/heads/main"])
def test_diff_role_reads_only_this_apps_stack_templates_and_assumes_nothing(ci_template, scope):
    """Not even the bootstrap lookup role: that is AWS's ReadOnlyAccess, which reads every S3 object
    and log in the account, and a pull request can change the workflow that holds this role."""
    role = _role_logical_id(ci_template, f"repo:{REPOSITORY}:{scope}")
    statements = _policy_statements(ci_template, role)
    assert "sts:AssumeRole" not in str(statements)
    granted = {(s["Sid"], tuple(sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])),
                tuple(sorted(_arn_text(r) for r in s["Resource"]))) for s in statements}
    stack = "arn:aws:cloudformation:{region}:" + ACCOUNT + ":stack/SweetDream-*/*"
    version = "arn:aws:ssm:{region}:" + ACCOUNT + ":parameter/cdk-bootstrap/hnb659fds/version"
    assert granted == {
        ("ReadAppStackTemplates", ("cloudformation:DescribeStacks", "cloudformation:GetTemplate"),
         tuple(sorted(stack.replace("{region}", r) for r in ("us-east-1", "us-west-2")))),
        ("ReadBootstrapVersion", ("ssm:GetParameter",),
         tuple(sorted(version.replace("{region}", r) for r in ("us-east-1", "us-west-2")))),
    }
    assert all(s["Effect"] == "Allow" for s in statements)


@pytest.mark.parametrize(("subject", "region"), [
    (f"repo:{REPOSITORY}:ref:refs/heads/dev", "us-east-1"),
    (f"repo:{REPOSITORY}:environment:production", "us-west-2"),
])
def test_deploy_role_reaches_bootstrap_roles_of_its_region_only(ci_template, subject, region):
    """Not the lookup role: synth makes no lookups, and its ReadOnlyAccess reads the whole account
    (the other environment's buckets and logs too, when both share an account)."""
    role = _role_logical_id(ci_template, subject)
    assert sorted(_assumable_role_names(ci_template, role)) == sorted(
        f"cdk-hnb659fds-{kind}-role-{ACCOUNT}-{region}"
        for kind in ("deploy", "file-publishing", "image-publishing"))


def test_no_managed_policies_and_no_wildcards_but_stack_ids(ci_template):
    for role in ci_template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    for policy in ci_template.find_resources("AWS::IAM::Policy").values():
        text = str(policy["Properties"]["PolicyDocument"]).replace(":stack/SweetDream-*/*", "")
        assert "*" not in text


def test_role_arns_are_outputs_for_the_repository_variables(ci_template):
    outputs = ci_template.find_outputs("*")
    assert {"DiffRoleArn", "DevDeployRoleArn", "ProdDeployRoleArn"} <= set(outputs)
    assert "AWS_DIFF_ROLE_ARN" in outputs["DiffRoleArn"]["Description"]


def test_existing_provider_is_reused_instead_of_created():
    app = App()
    provider_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_ISSUER}"
    stack = CiStack(app, "CI", github_repository=REPOSITORY,
                    dev_env=Environment(region="us-east-1"), prod_env=Environment(region="us-west-2"),
                    existing_oidc_provider_arn=provider_arn,
                    env=Environment(account=ACCOUNT, region="us-east-1"))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    template.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [
        {"Principal": {"Federated": provider_arn}}]}})


@pytest.mark.parametrize("repository", [
    "", "sweetdream", "owner/name/extra", "owner/*", "*/*", "owner/na me", "-owner/name", "owner/",
])
def test_repository_that_could_widen_or_break_trust_is_rejected(repository):
    with pytest.raises(ValueError, match="owner/name"):
        CiStack(App(), "CI", github_repository=repository,
                dev_env=Environment(region="us-east-1"), prod_env=Environment(region="us-west-2"))


def test_environment_without_region_is_rejected():
    with pytest.raises(ValueError, match="region"):
        CiStack(App(), "CI", github_repository=REPOSITORY,
                dev_env=Environment(), prod_env=Environment(region="us-west-2"))


def test_without_an_account_the_roles_name_the_deploying_account():
    # What app.py builds when neither context nor credentials name an account.
    stack = CiStack(App(), "CI", github_repository=REPOSITORY,
                    dev_env=Environment(region="us-east-1"), prod_env=Environment(region="us-west-2"),
                    env=Environment(region="us-east-1"))
    template = Template.from_stack(stack)
    role = _role_logical_id(template, f"repo:{REPOSITORY}:environment:production")
    assert "cdk-hnb659fds-deploy-role-${AWS::AccountId}-us-west-2" in _assumable_role_names(template, role)
