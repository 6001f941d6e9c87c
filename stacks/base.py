"""What every SweetDream stack shares: environment, explicit AZs, tags, cdk-nag acknowledgements."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Environment, Stack, Tags, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import IConstruct

from .config import APP_NAME, EnvironmentConfig


class SweetDreamStack(Stack):
    """A stack of one environment, named `SweetDream-<Env>-<part>`.

    `availability_zones` comes from the config: with an account set, VPC and RDS constructs would
    otherwise look the zones up, and that lookup needs credentials at synth time.
    """

    def __init__(
        self, scope: IConstruct, part: str, *, config: EnvironmentConfig, description: str, **kwargs
    ) -> None:
        self.config = config
        stack_name = f"{config.stack_prefix}-{part}"
        super().__init__(
            scope,
            stack_name,
            stack_name=stack_name,
            description=description,
            env=Environment(account=config.account, region=config.region),
            termination_protection=config.termination_protection,
            **kwargs,
        )
        Tags.of(self).add("Application", APP_NAME)
        Tags.of(self).add("Environment", config.name)

    @property
    def availability_zones(self) -> list[str]:
        return list(self.config.availability_zones)


def https_out_security_group(
    scope: IConstruct, construct_id: str, *, vpc: ec2.IVpc, description: str, https_to: str
) -> ec2.SecurityGroup:
    """A security group that lets out only HTTPS, to `https_to` through the NAT; ways to PostgreSQL
    or to other services are added where they are granted."""
    group = ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, allow_all_outbound=False, description=description
    )
    group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), https_to)
    return group


def enforce_log_retention(scope: IConstruct, days: int) -> None:
    """Every log group below `scope` keeps `days` of logs, including those third-party constructs make."""
    for child in scope.node.find_all():
        if isinstance(child, logs.CfnLogGroup) and child.retention_in_days != days:
            child.retention_in_days = days


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding on `construct` (and its children), with the reason on record."""
    acknowledge_id(construct, f"AwsSolutions::AwsSolutions-{rule}", reason)


def acknowledge_id(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Accept a validation finding by its full id (cdk-nag rules, or CDK annotations)."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def flatten_cfn_reference(node: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it in finding ids, e.g. `<Fn1234.Arn>:*`."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_cfn_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_cfn_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_cfn_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_cfn_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def acknowledge_wildcard_resource(construct: IConstruct, resource: Any, reason: str) -> None:
    """Accept cdk-nag's IAM5 finding for one wildcard resource (e.g. `arn:...:bucket/prefix/*`)."""
    flat = flatten_cfn_reference(Stack.of(construct).resolve(resource))
    acknowledge(construct, f"IAM5[Resource::{flat}]", reason)


def acknowledge_function_versions(construct: IConstruct, reason: str) -> None:
    """Accept the `<function ARN>:*` grants that custom-resource providers give their own functions."""
    for child in construct.node.find_all():
        if isinstance(child, lambda_.CfnFunction):
            acknowledge_wildcard_resource(construct, f"{child.attr_arn}:*", reason)
