"""Builds one environment's stacks. app.py and the tests both call `add_environment`."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, CfnOutput

from services.manifest import SERVICES

from .base import enforce_log_retention
from .bastion_stack import BastionStack
from .config import EnvironmentConfig
from .data_stack import DataStack
from .network_stack import NetworkStack
from .services_stack import ServicesStack


@dataclass(frozen=True)
class ShopEnvironment:
    config: EnvironmentConfig
    network: NetworkStack
    data: DataStack
    services: ServicesStack
    bastion: BastionStack | None


def add_environment(app: App, config: EnvironmentConfig) -> ShopEnvironment:
    """Network, then data (stateful), then services (stateless); a bastion when the flag is on."""
    network = NetworkStack(app, config=config)
    data = DataStack(app, config=config, vpc=network.vpc, services=tuple(spec.name for spec in SERVICES))
    CfnOutput(
        data,
        "AnalyticsBucketName",
        value=data.analytics_bucket.bucket_name,
        description="Daily analytics export (user-actions/year=/month=/day=)",
    )
    CfnOutput(
        data,
        "DatabaseEndpoint",
        value=data.db_instance.db_instance_endpoint_address,
        description="PostgreSQL host, reachable from inside the VPC (the dev bastion forwards to it)",
    )
    services = ServicesStack(
        app, config=config, vpc=network.vpc, nat_public_ips=network.nat_public_ips, data=data
    )
    bastion = (
        BastionStack(app, config=config, vpc=network.vpc, database=data.db_instance)
        if config.bastion
        else None
    )
    for stack in (network, data, services, bastion):
        if stack is not None:
            enforce_log_retention(stack, config.log_retention_days)
    return ShopEnvironment(config=config, network=network, data=data, services=services, bastion=bastion)
