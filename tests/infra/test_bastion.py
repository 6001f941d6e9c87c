"""The optional dev bastion: SSM Session Manager only, no SSH, and a way to PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
from aws_cdk import App

from stacks.bastion_stack import BastionStack
from stacks.config import DEV, PROD

from .helpers import logical_id, only, properties


@pytest.fixture
def bastion(shop, templates):
    return shop["dev"].bastion, shop["dev"].data, templates["dev", "Bastion"]


def test_only_when_the_context_flag_is_on(shop):
    assert shop["dev"].config.bastion is True  # set by the session's context
    assert shop["prod"].bastion is None


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
    egress = [(rule["CidrIp"], rule["FromPort"]) for rule in group["SecurityGroupEgress"]]
    assert egress == [("0.0.0.0/0", 443)]


def test_session_manager_role_and_imdsv2(bastion):
    _, _, template = bastion
    (statement,) = only(properties(template, "AWS::IAM::Policy"))["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {"ssmmessages:*", "ssm:UpdateInstanceInformation", "ec2messages:*"}
    launch_template = only(properties(template, "AWS::EC2::LaunchTemplate"))
    assert launch_template["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    instance = only(properties(template, "AWS::EC2::Instance"))
    assert instance["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


def test_bastion_reaches_postgresql(bastion):
    stack, data, template = bastion
    rule = only(properties(template, "AWS::EC2::SecurityGroupIngress"))
    host_group = logical_id(stack.host.connections.security_groups[0])
    assert rule["SourceSecurityGroupId"] == {"Fn::GetAtt": [host_group, "GroupId"]}
    assert logical_id(data.db_security_group) in str(rule["GroupId"])


def test_only_dev_may_have_one():
    with pytest.raises(ValueError, match="never runs a bastion"):
        dataclasses.replace(PROD, bastion=True)
    with pytest.raises(ValueError, match="has no bastion"):
        BastionStack(App(), config=DEV, vpc=None, database=None)


def test_names_its_instance_for_session_manager(bastion):
    stack, _, template = bastion
    # README "Reach the database" starts the session with this output.
    template.has_output("BastionInstanceId", {"Value": {"Ref": logical_id(stack.host.instance)}})
