"""VPC: CIDR, two AZs, three tiers of subnets, NAT per environment, S3 endpoint, flow logs."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from .helpers import properties


def test_synth_with_an_account_asks_for_no_lookups(shop, cdk_outdir):
    # The account is set (conftest), yet no context is missing: the explicit zones keep VPC and RDS
    # from looking them up. So CI's deploy roles need no bootstrap lookup role (stacks/ci_stack.py).
    assert all(environment.config.account for environment in shop.values())
    assert "missing" not in json.loads((cdk_outdir / "manifest.json").read_text())


def test_vpc_cidr(network, config):
    network.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": config.vpc_cidr})
    assert {"dev": "10.1.0.0/16", "prod": "10.0.0.0/16"}[config.name] == config.vpc_cidr


def test_subnets_span_exactly_the_configured_two_zones(network, config):
    subnets = properties(network, "AWS::EC2::Subnet")
    assert {subnet["AvailabilityZone"] for subnet in subnets} == set(config.availability_zones)
    assert len(config.availability_zones) == 2
    # public, private (egress) and isolated in each zone
    assert len(subnets) == 3 * 2
    tiers = {
        tag["Value"] for subnet in subnets for tag in subnet["Tags"] if tag["Key"] == "aws-cdk:subnet-name"
    }
    assert tiers == {"public", "private", "isolated"}


def test_nat_gateways_per_environment(network, config):
    network.resource_count_is("AWS::EC2::NatGateway", config.nat_gateways)
    assert {"dev": 1, "prod": 2}[config.name] == config.nat_gateways


def test_isolated_subnets_have_no_route_out(network):
    isolated_tables = [
        logical_id
        for logical_id, table in network.find_resources("AWS::EC2::RouteTable").items()
        if "isolated" in logical_id
    ]
    assert isolated_tables
    for route in properties(network, "AWS::EC2::Route"):
        assert route["RouteTableId"]["Ref"] not in isolated_tables


def test_s3_gateway_endpoint(network):
    network.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "ServiceName": Match.object_like({"Fn::Join": Match.array_with([Match.array_with([".s3"])])}),
        },
    )


def test_flow_logs_to_cloudwatch_with_retention(network, config):
    network.has_resource_properties(
        "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"}
    )
    network.has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": {"dev": 7, "prod": 30}[config.name]}
    )


def test_every_function_logs_to_a_group_with_the_environment_retention(templates, config):
    days = {"dev": 7, "prod": 30}[config.name]
    for part in ("Network", "Data", "Services"):
        template = templates[config.name, part]
        groups = template.find_resources("AWS::Logs::LogGroup")
        named = {str(group["Properties"].get("LogGroupName")) for group in groups.values()}
        for function_id, function in template.find_resources("AWS::Lambda::Function").items():
            explicit = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
            if explicit is not None:
                assert groups[explicit["Ref"]]["Properties"]["RetentionInDays"] == days
            else:  # the /aws/lambda/<function> group, created by the stack with retention
                assert any(f"'Ref': '{function_id}'" in name for name in named), function_id
        assert {group["Properties"]["RetentionInDays"] for group in groups.values()} <= {days}


def test_nat_gateways_use_the_stack_s_own_elastic_ips(network, shop, config):
    # The VPC allocates none of its own: the addresses are ours, so the users task can trust them.
    eips = network.find_resources("AWS::EC2::EIP")
    assert len(eips) == config.nat_gateways
    assert {eip["Properties"]["Domain"] for eip in eips.values()} == {"vpc"}
    allocations = [gateway["AllocationId"] for gateway in properties(network, "AWS::EC2::NatGateway")]
    assert sorted(allocations, key=str) == [
        {"Fn::GetAtt": [eip_id, "AllocationId"]} for eip_id in sorted(eips)
    ]
    assert len(shop[config.name].network.nat_public_ips) == config.nat_gateways
