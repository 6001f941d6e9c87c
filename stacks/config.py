"""Everything that differs between dev and prod, in one frozen dataclass per environment.

Constructs and stacks take an `EnvironmentConfig` and never test the environment's name, so the
table in DESIGN.md "Infrastructure" maps one to one onto the fields below. Values that belong to an
account rather than to the code (alert email, TLS certificate, domain, bastion flag) come from CDK
context and are merged in by `with_context`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_logs as logs

APP_NAME = "SweetDream"
# Private DNS namespace for service-to-service calls (orders -> catalog, JWKS from users).
SERVICE_NAMESPACE = "sweetdream.internal"
DATABASE_NAME = "sweetdream"
# AWS's RDS certificate authorities, against which every connection verifies the database's
# certificate: the image holds a copy (Dockerfile), the database-roles function fetches it.
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
RDS_CA_BUNDLE_PATH = "/etc/ssl/certs/rds-global-bundle.pem"
ACCOUNT_CONTEXT_KEY = "sweetdream:account"

# max_connections, set in the parameter group rather than left to RDS's default,
# LEAST(DBInstanceClassMemory / 9531392, 5000): that memory is what the OS leaves (a micro gets about
# 81–87, not its nominal 1 GiB's 112), which no template knows, and the connections alarm and the
# pool sizing need the server's real number. Each is a little below that default for its size.
MAX_CONNECTIONS_BY_SIZE = {"micro": 80, "small": 160, "medium": 400, "large": 800, "xlarge": 1600,
                           "2xlarge": 3200}

# The services refuse a larger fee at start (services/orders/config.py, services/storefront/config.py).
MAX_SHIPPING_FEE_VND = 10_000_000

# CloudWatch Logs accepts only these retention periods; the ones an environment may pick.
RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CERTIFICATE_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/[0-9a-f-]{36}$"
)


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str  # "dev" | "prod": also the services' ENVIRONMENT
    region: str
    availability_zones: tuple[str, ...]
    vpc_cidr: str
    # One NAT gateway per AZ survives an AZ outage; one shared gateway costs half.
    nat_gateways: int
    log_retention_days: int
    min_tasks: int
    max_tasks: int
    # Services deployed by CodeDeploy blue/green; the rest roll with the circuit breaker.
    blue_green_services: tuple[str, ...]
    https: bool
    bastion_allowed: bool
    db_instance_type: str
    db_multi_az: bool
    db_deletion_protection: bool
    db_backup_days: int
    db_allocated_storage_gib: int
    db_max_allocated_storage_gib: int
    termination_protection: bool
    # One figure for the orders service, which charges it, and the storefront, which shows it:
    # set apart, every checkout would be refused as "prices changed".
    shipping_fee_vnd: int = 30_000
    cpu_target_percent: int = 70
    alarm_threshold_percent: int = 80
    # Request threads per gunicorn worker (GUNICORN_THREADS) for a service whose p99 alarm says its
    # tasks wait with CPU to spare, e.g. {"orders": 6}; the database pool follows. Unset: the kit's 3.
    gunicorn_threads: Mapping[str, int] = dataclasses.field(default_factory=dict, hash=False)
    # From context (with_context):
    account: str | None = None
    alert_email: str | None = None
    certificate_arn: str | None = None
    domain_name: str | None = None
    bastion: bool = False
    # For one deploy of a fix while the alarm that blue/green watches fires (README "Blue/green").
    deploy_despite_alarms: bool = False

    def __post_init__(self) -> None:
        if len(self.availability_zones) != 2:
            raise ValueError("each environment spans exactly two availability zones")
        if not all(zone.startswith(self.region) for zone in self.availability_zones):
            raise ValueError(f"availability zones {self.availability_zones} are not in {self.region}")
        if not 1 <= self.nat_gateways <= len(self.availability_zones):
            raise ValueError("nat_gateways must be between 1 and the number of availability zones")
        if not 1 <= self.min_tasks <= self.max_tasks:
            raise ValueError("need 1 <= min_tasks <= max_tasks")
        if "catalog" in self.blue_green_services:
            raise ValueError(
                "catalog must roll: orders reaches it through Cloud Map, which blue/green does not shift"
            )
        if not 0 <= self.shipping_fee_vnd <= MAX_SHIPPING_FEE_VND:
            raise ValueError(f"shipping_fee_vnd must be between 0 and {MAX_SHIPPING_FEE_VND}")
        if self.log_retention_days not in RETENTION:
            raise ValueError(f"log_retention_days must be one of {sorted(RETENTION)}")
        if any(threads < 1 for threads in self.gunicorn_threads.values()):
            raise ValueError("gunicorn_threads must be at least 1 per service")
        if self.db_instance_type.rsplit(".", 1)[-1] not in MAX_CONNECTIONS_BY_SIZE:
            raise ValueError(f"no max_connections for {self.db_instance_type}: add its size to "
                             "MAX_CONNECTIONS_BY_SIZE")
        if self.bastion and not self.bastion_allowed:
            raise ValueError(f"{self.name} never runs a bastion host")

    @property
    def db_max_connections(self) -> int:
        return MAX_CONNECTIONS_BY_SIZE[self.db_instance_type.rsplit(".", 1)[-1]]

    @property
    def log_retention(self) -> logs.RetentionDays:
        return RETENTION[self.log_retention_days]

    @property
    def title(self) -> str:
        return self.name.capitalize()

    @property
    def stack_prefix(self) -> str:
        """`SweetDream-Dev`: every stack of the environment is named `<prefix>-<part>`."""
        return f"{APP_NAME}-{self.title}"

    def context_key(self, setting: str) -> str:
        return f"sweetdream:{self.name}:{setting}"

    def is_blue_green(self, service: str) -> bool:
        return service in self.blue_green_services

    def task_role_name(self, service: str) -> str:
        """Known before deployment, so the data stack's signing key can name the one role that may
        sign without a reference to the services stack (which already depends on it)."""
        return f"{APP_NAME}-{self.name}-{service}-task"


DEV = EnvironmentConfig(
    name="dev",
    region="us-east-1",
    availability_zones=("us-east-1a", "us-east-1b"),
    vpc_cidr="10.1.0.0/16",
    nat_gateways=1,
    log_retention_days=7,
    min_tasks=1,
    max_tasks=3,
    blue_green_services=(),
    https=False,
    bastion_allowed=True,
    db_instance_type="t4g.micro",
    db_multi_az=False,
    db_deletion_protection=False,
    db_backup_days=7,
    db_allocated_storage_gib=20,
    db_max_allocated_storage_gib=50,
    termination_protection=False,
)

PROD = EnvironmentConfig(
    name="prod",
    region="us-west-2",
    availability_zones=("us-west-2a", "us-west-2b"),
    vpc_cidr="10.0.0.0/16",
    nat_gateways=2,
    log_retention_days=30,
    min_tasks=2,
    max_tasks=10,
    # catalog stays rolling: orders reaches it through Cloud Map, which CodeDeploy does not shift.
    blue_green_services=("storefront", "users", "orders"),
    https=True,
    bastion_allowed=False,
    db_instance_type="t4g.medium",
    db_multi_az=True,
    db_deletion_protection=True,
    db_backup_days=30,
    db_allocated_storage_gib=50,
    db_max_allocated_storage_gib=200,
    termination_protection=True,
)

ENVIRONMENTS: tuple[EnvironmentConfig, ...] = (DEV, PROD)


class EnvironmentContextError(ValueError):
    """A setting only this environment's stacks use (prod's certificate and domain) is missing or
    wrong: app.py leaves that environment out, so the other one still synthesizes and deploys."""


def _flag(value: Any) -> bool:
    # `-c key=true` arrives as a string, cdk.json as a boolean.
    return value is True or str(value).lower() in ("true", "1", "yes")


def with_context(
    config: EnvironmentConfig, context: Callable[[str], Any], account: str | None = None
) -> EnvironmentConfig:
    """The environment with its account-specific settings from CDK context, validated."""
    alert_email = context(config.context_key("alertEmail")) or context("sweetdream:alertEmail")
    if not alert_email or not _EMAIL.match(str(alert_email)):
        raise ValueError(
            f"set context sweetdream:alertEmail (or {config.context_key('alertEmail')}) "
            f"to the address that receives {config.name} alarms; got {alert_email!r}"
        )
    account = account or context(ACCOUNT_CONTEXT_KEY) or None
    certificate_arn = context(config.context_key("certificateArn"))
    domain_name = context(config.context_key("domainName"))
    if config.https:
        match = _CERTIFICATE_ARN.match(str(certificate_arn or ""))
        if not match or match["region"] != config.region:
            raise EnvironmentContextError(
                f"{config.name} serves HTTPS: set context {config.context_key('certificateArn')} "
                f"to an ACM certificate ARN in {config.region}; got {certificate_arn!r}"
            )
        if account and match["account"] != str(account):
            # Catches the example value shipped in cdk.json before it reaches a real deploy.
            raise EnvironmentContextError(
                f"{config.context_key('certificateArn')} is a certificate of account {match['account']}, "
                f"but {config.name} deploys to account {account}: set it to your own certificate"
            )
        if not domain_name:
            raise EnvironmentContextError(
                f"{config.name} serves HTTPS: set context {config.context_key('domainName')} "
                f"to the certificate's host name (it becomes the shop URL)"
            )
    return dataclasses.replace(
        config,
        account=account,
        alert_email=str(alert_email),
        certificate_arn=str(certificate_arn) if config.https else None,
        domain_name=str(domain_name) if config.https else None,
        bastion=_flag(context(config.context_key("bastion"))),
        deploy_despite_alarms=_flag(context(config.context_key("deployDespiteAlarms"))),
    )
