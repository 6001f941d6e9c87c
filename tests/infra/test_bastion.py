"""The optional dev bastion: SSM Session Manager only, no SSH, and a way to PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
from aws_cdk import App, Validations
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from services.manifest import SERVICES
from stacks.bastion_stack import BastionStack
from stacks.config import DEV, PROD
from stacks.data_stack import DataStack
from stacks.network_stack import NetworkStack

from .helpers import logical_id, only, properties


@pytest.fixture(scope="module")
def bastion(tmp_path_factory):
    config = dataclasses.replace(DEV, account="123456789012", alert_email="ops@example.com", bastion=True)
    app = App(outdir=str(tmp_path_factory.mktemp("bastion.out")))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    network = NetworkStack(app, config=config)
    data = DataStack(app, config=config, vpc=network.vpc, services=tuple(spec.name for spec in SERVICES))
    stack = BastionStack(app, config=config, vpc=network.vpc, database=data.db_instance)
    app.synth()  # the cdk-nag gate
    return stack, data, Template.from_stack(stack)


def test_stack_name(bastion):
    stack, _, _ = bastion
    assert stack.stack_name == "SweetDream-Dev-Bastion"


def test_no_ssh_and_no_key_pair(bastion):
    stack, _, template = bastion
    host_group = logical_id(stack.host.connections.security_groups[0])
    group = template.find_resources("AWS::EC2::SecurityGroup")[host_group]["Properties"]
    assert "SecurityGroupIngress" not in group
    for rule in properties(template, "AWS::EC2::SecurityGroupIngress"):
        assert rule["FromPort"] != 22
    instance = only(properties(template, "AWS::EC2::Instance"))
    assert "KeyName" not in instance


def test_session_manager_role_and_imdsv2(bastion):
    _, _, template = bastion
    (statement,) = only(properties(template, "AWS::IAM::Policy"))["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {"ssmmessages:*", "ssm:UpdateInstanceInformation", "ec2messages:*"}
    template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {
            "LaunchTemplateData": Match.object_like(
                {"MetadataOptions": Match.object_like({"HttpTokens": "required"})}
            )
        },
    )
    instance = only(properties(template, "AWS::EC2::Instance"))
    assert instance["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


def test_bastion_reaches_postgresql(bastion):
    stack, data, template = bastion
    rule = only(properties(template, "AWS::EC2::SecurityGroupIngress"))
    assert rule["SourceSecurityGroupId"] == {
        "Fn::GetAtt": [logical_id(stack.host.connections.security_groups[0]), "GroupId"]
    }
    assert logical_id(data.db_security_group) in str(rule["GroupId"])


def test_only_dev_may_have_one():
    with pytest.raises(ValueError, match="never runs a bastion"):
        dataclasses.replace(PROD, bastion=True)
    with pytest.raises(ValueError, match="has no bastion"):
        BastionStack(App(), config=DEV, vpc=None, database=None)
