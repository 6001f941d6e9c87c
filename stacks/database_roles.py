"""Each service's own PostgreSQL role and secret, made at deploy time (lambdas/database_roles).

    ServiceDatabaseRoles(scope, "ServiceRoles", config=config, vpc=vpc, instance=instance,
                         services=("users", "orders", "catalog"))

- per service: a secret `sweetdream/<env>/<service>/database` holding the login of the role
  `<service>_service`, a generated password and the instance's address; its task reads this one;
- a Lambda in the private subnets, the master secret's only reader besides its rotation, which a
  custom resource runs on every deploy that changes the services, their secrets or their tables.
  Operators can run it again by hand (README, "Rotating secrets").

The package is the handler plus pg8000 and its pure-Python dependencies, copied from this
environment; the runtime's boto3 brings python-dateutil, pg8000's other dependency.
"""

from __future__ import annotations

import importlib
import json
import shutil
from importlib import metadata
from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from services.kit.db import version_table

from .base import acknowledge, acknowledge_wildcard_resource, https_out_security_group
from .config import DATABASE_NAME, RDS_CA_BUNDLE_URL, EnvironmentConfig
from .functions import RUNTIME, function_log_group, grant_own_logs, local_package
from .network_stack import PRIVATE

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_SOURCE = REPO_ROOT / "lambdas" / "database_roles"
DRIVER_PACKAGES = ("pg8000", "scramp", "asn1crypto")
# The network-interface actions of AWSLambdaVPCAccessExecutionRole, which a function in a VPC needs;
# the policy's logs actions on every log group are left out (grant_own_logs instead).
VPC_NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
ROTATION_REASON = (
    "ECS injects this login into each task when the task starts, and the role's password changes only "
    "when the database-roles function runs; a scheduled rotation would lock running tasks out. Rotate "
    "deliberately (README, 'Rotating secrets')."
)


def role_name(service: str) -> str:
    return f"{service}_service"


def service_tables(service: str) -> list[str]:
    """The tables `service` owns: its models' tables and its Alembic version table."""
    models = importlib.import_module(f"services.{service}.models")
    return sorted([*models.Base.metadata.tables, version_table(service)])


def bundle_lambda_package(output_dir: Path) -> None:
    """`database_roles/` and the driver's distributions as installed here (pinned in requirements.txt),
    with their metadata: scramp reads its own version from it."""
    shutil.copytree(LAMBDA_SOURCE, output_dir / "database_roles",
                    ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    for name in DRIVER_PACKAGES:
        distribution = metadata.distribution(name)
        for file in distribution.files or ():
            if "__pycache__" in file.parts or file.parts[0].startswith(".."):
                continue  # compiled files, and scripts installed outside site-packages
            target = output_dir / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(distribution.locate_file(file), target)


class ServiceDatabaseRoles(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        vpc: ec2.IVpc,
        instance: rds.DatabaseInstance,
        services: tuple[str, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        master_secret = instance.secret
        if master_secret is None:
            raise ValueError("the instance needs its generated master secret")
        self.secrets: dict[str, secretsmanager.ISecret] = {}
        for service in services:
            secret = rds.DatabaseSecret(
                self,
                f"{service.capitalize()}Secret",
                username=role_name(service),
                dbname=DATABASE_NAME,
                secret_name=f"sweetdream/{config.name}/{service}/database",
                master_secret=master_secret,
            )
            acknowledge(secret, "SMG4", ROTATION_REASON)
            # The attached secret, which also holds the instance's host and port: whatever reads it
            # comes after the attachment.
            self.secrets[service] = secret.attach(instance)

        self.function_name = f"sweetdream-{config.name}-database-roles"
        log_group = function_log_group(self, "FunctionLogs", function_name=self.function_name, config=config)
        self.security_group = https_out_security_group(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"SweetDream {config.name} database-roles function: PostgreSQL and HTTPS out",
            https_to="Secrets Manager, through the NAT",
        )
        instance.connections.allow_default_port_from(self.security_group, "database-roles function")
        settings = {
            "MASTER_SECRET_ARN": master_secret.secret_arn,
            "DATABASE": DATABASE_NAME,
            "DATABASE_CA_URL": RDS_CA_BUNDLE_URL,
            "SERVICES": json.dumps(
                [
                    {"Name": s, "SecretArn": self.secrets[s].secret_arn, "Tables": service_tables(s)}
                    for s in services
                ],
                separators=(",", ":"),
            ),
        }
        role = self._role(config, log_group)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description="Gives each SweetDream service its own PostgreSQL role and tables",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="database_roles.handler.on_event",
            code=local_package(LAMBDA_SOURCE, bundle_lambda_package),
            memory_size=256,
            timeout=Duration.minutes(2),
            role=role,
            log_group=log_group,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name=PRIVATE),
            security_groups=[self.security_group],
            environment=settings,
        )
        master_secret.grant_read(role)
        for secret in self.secrets.values():
            secret.grant_read(role)
        acknowledge(
            self.function,
            "L1",
            f"Pinned to {RUNTIME.name} with the analytics export (stacks/functions.py), whose "
            "Powertools layer decides when both move.",
        )

        provider_logs = logs.LogGroup(
            self, "ProviderLogs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        # A role of our own: the framework's default (AWSLambdaBasicExecutionRole) could write to
        # any log group, the services' user_action lines included.
        provider_role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"SweetDream {config.name} database-roles provider framework function",
        )
        grant_own_logs(provider_role, provider_logs)
        provider = cr.Provider(
            self, "Provider", on_event_handler=self.function, log_group=provider_logs, role=provider_role
        )
        acknowledge_wildcard_resource(
            provider_role,
            f"{self.function.function_arn}:*",
            "The provider framework invokes the handler function; `:*` covers its versions, nothing else.",
        )
        # The handler reads its settings from its environment, so a hand-run needs no payload; the
        # same settings here make CloudFormation run it again whenever they change.
        self.resource = CustomResource(
            self, "Roles", service_token=provider.service_token, properties=settings,
            resource_type="Custom::SweetDreamServiceRoles",
        )

    def _role(self, config: EnvironmentConfig, log_group: logs.ILogGroup) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"SweetDream {config.name} database-roles function",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="VpcNetworkInterfaces", actions=list(VPC_NETWORK_INTERFACE_ACTIONS), resources=["*"]
            )
        )
        acknowledge(
            role,
            "IAM5[Resource::*]",
            "A function in a VPC needs to create, describe and delete its network interfaces; EC2 "
            "scopes those actions to no resource. They are AWSLambdaVPCAccessExecutionRole's, without "
            "its logs actions on every log group.",
        )
        grant_own_logs(role, log_group)
        return role

