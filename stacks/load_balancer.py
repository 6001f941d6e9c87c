"""The shop's Application Load Balancer, routed by services/manifest.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.manifest import SERVICES, ServiceSpec

from .base import acknowledge
from .config import EnvironmentConfig
from .data_stack import ALB_LOG_PREFIX

# An ALB rule matches at most five condition values, so longer pattern lists are split.
MAX_PATTERNS_PER_RULE = 5
PRIORITY_STEP = 10
TEST_LISTENER_PORT = {True: 8443, False: 8080}  # keyed by https


@dataclass(frozen=True)
class RoutingRule:
    priority: int
    service: str
    path_patterns: tuple[str, ...]


def routing_rules(services: Iterable[ServiceSpec] = SERVICES) -> list[RoutingRule]:
    """The listener rules of the manifest: priorities follow manifest order, first match wins."""
    rules = []
    for index, spec in enumerate(services, start=1):
        for chunk, start in enumerate(range(0, len(spec.path_patterns), MAX_PATTERNS_PER_RULE)):
            rules.append(
                RoutingRule(
                    priority=index * PRIORITY_STEP + chunk,
                    service=spec.name,
                    path_patterns=spec.path_patterns[start : start + MAX_PATTERNS_PER_RULE],
                )
            )
    return rules


def default_service(services: Iterable[ServiceSpec] = SERVICES) -> ServiceSpec:
    defaults = [spec for spec in services if spec.is_default]
    if len(defaults) != 1:
        raise ValueError(f"the manifest needs exactly one default service, has {[s.name for s in defaults]}")
    return defaults[0]


class ShopLoadBalancer(Construct):
    """Internet-facing ALB: HTTP in dev; HTTPS with HTTP redirecting to it in prod.

    With blue/green services it also has a test listener (reachable from inside the VPC only) on
    which CodeDeploy exposes the replacement tasks before shifting production traffic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        vpc: ec2.IVpc,
        access_log_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description=f"SweetDream {config.name} ALB: the web from anywhere; egress only to the tasks",
        )
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=True,
            security_group=self.security_group,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
            idle_timeout=Duration.seconds(60),
            deletion_protection=config.termination_protection,
        )
        self.alb.log_access_logs(access_log_bucket, prefix=ALB_LOG_PREFIX)
        acknowledge(
            self.security_group,
            "EC23",
            "The shop is a public website: the ALB accepts HTTP(S) "
            "from anywhere. The tasks behind it accept traffic only from this security group.",
        )

        if config.https:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            self.listener = self.alb.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[certificate],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=True,
            )
            self.alb.add_redirect(
                source_port=80,
                source_protocol=elbv2.ApplicationProtocol.HTTP,
                target_port=443,
                target_protocol=elbv2.ApplicationProtocol.HTTPS,
            )
        else:
            self.listener = self.alb.add_listener(
                "Http", port=80, protocol=elbv2.ApplicationProtocol.HTTP, open=True
            )
        self.test_listener: elbv2.ApplicationListener | None = None
        if config.blue_green_services:
            port = TEST_LISTENER_PORT[config.https]
            self.test_listener = self.alb.add_listener(
                "Test",
                port=port,
                open=False,
                protocol=elbv2.ApplicationProtocol.HTTPS if config.https else elbv2.ApplicationProtocol.HTTP,
                certificates=[certificate] if config.https else None,
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS if config.https else None,
            )
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(vpc.vpc_cidr_block),
                ec2.Port.tcp(port),
                "CodeDeploy test listener: replacement tasks, from inside the VPC only",
            )

    @property
    def url(self) -> str:
        if self.config.https:
            return f"https://{self.config.domain_name}"
        return f"http://{self.alb.load_balancer_dns_name}"

    def route(
        self,
        target_groups: Mapping[str, elbv2.IApplicationTargetGroup],
        test_target_groups: Mapping[str, elbv2.IApplicationTargetGroup],
    ) -> None:
        """Listener rules from the manifest; the default service takes the listener's default action.

        `target_groups` maps every service to the group production traffic goes to (blue, for
        blue/green services); `test_target_groups` does the same for the test listener.
        """
        listeners = [(self.listener, target_groups)]
        if self.test_listener is not None:
            listeners.append((self.test_listener, test_target_groups))
        for listener, groups in listeners:
            listener_id = listener.node.id
            for rule in routing_rules():
                elbv2.ApplicationListenerRule(
                    self,
                    f"{listener_id}{rule.service.capitalize()}Rule{rule.priority}",
                    listener=listener,
                    priority=rule.priority,
                    conditions=[elbv2.ListenerCondition.path_patterns(list(rule.path_patterns))],
                    action=elbv2.ListenerAction.forward([groups[rule.service]]),
                )
            default = default_service().name
            listener.add_action("Default", action=elbv2.ListenerAction.forward([groups[default]]))
