"""SweetDream-<Env>-Network: the VPC every other stack lives in."""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from .base import SweetDreamStack, acknowledge_id
from .config import EnvironmentConfig

PUBLIC, PRIVATE, ISOLATED = "public", "private", "isolated"


class ShopNetwork(Construct):
    """Public subnets (ALB, NAT), private subnets with egress (tasks), isolated subnets (RDS)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        # The NAT addresses are allocated here rather than by the VPC so the services stack can name
        # them: the storefront's calls to the shop URL reach the ALB from these addresses.
        self.nat_eips = [
            ec2.CfnEIP(self, f"NatEip{number}", domain="vpc")
            for number in range(1, config.nat_gateways + 1)
        ]
        self.nat_public_ips: list[str] = [eip.attr_public_ip for eip in self.nat_eips]
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            max_azs=len(config.availability_zones),
            nat_gateways=config.nat_gateways,
            nat_gateway_provider=ec2.NatProvider.gateway(
                eip_allocation_ids=[eip.attr_allocation_id for eip in self.nat_eips]
            ),
            subnet_configuration=[
                ec2.SubnetConfiguration(name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name=PRIVATE, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
                ec2.SubnetConfiguration(
                    name=ISOLATED, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            restrict_default_security_group=True,
            # ECR image layers come from S3: the gateway endpoint keeps them off the NAT bill.
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        acknowledge_id(
            self.vpc,
            "CloudFormation-Validate::W3010",
            "Explicit availability zones are deliberate: synth needs no AZ lookup and so no AWS credentials.",
        )
        flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )


class NetworkStack(SweetDreamStack):
    def __init__(self, scope: Construct, *, config: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            "Network",
            config=config,
            description=f"SweetDream {config.name}: VPC over two AZs, NAT, S3 endpoint, flow logs",
        )
        self.network = ShopNetwork(self, "Network", config=config)
        self.vpc = self.network.vpc
        # Public addresses the tasks' outbound traffic leaves from, one per NAT gateway.
        self.nat_public_ips = self.network.nat_public_ips
        self._retain_provider_logs_for(config)

    def _retain_provider_logs_for(self, config: EnvironmentConfig) -> None:
        """The default-security-group cleanup function logs to a group with the environment's retention.

        CDK creates that function as a stack-level provider without a log group of its own, so it
        would log to /aws/lambda/<name> and keep those logs forever.
        """
        provider = self.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if not isinstance(handler, CfnResource):
            raise ValueError("the VPC's default-security-group provider was not found; check its path")
        log_group = logs.LogGroup(
            self,
            "RestrictDefaultSgLogs",
            retention=config.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        handler.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
