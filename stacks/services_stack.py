"""SweetDream-<Env>-Services: everything stateless. Safe to replace; holds no data.

ECS cluster, Cloud Map namespace, the ALB routed by the manifest, one Fargate service per manifest
entry (rolling or blue/green per the environment), alarms, the dashboard and the outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_sns as sns
from constructs import Construct

from services.kit.proxies import PRIVATE_NETWORKS
from services.manifest import SERVICES, ServiceSpec, by_name

from .analytics import AnalyticsExport
from .base import SweetDreamStack, acknowledge_wildcard_resource
from .config import RDS_CA_BUNDLE_PATH, SERVICE_NAMESPACE, EnvironmentConfig
from .container_image import has_database, service_image
from .data_stack import ANALYTICS_PREFIX, DataStack, analytics_bucket_name
from .fargate_service import ShopService
from .load_balancer import ShopLoadBalancer
from .monitoring import ShopMonitoring

# Who calls whom inside the VPC, through Cloud Map: orders fetches prices from catalog, and every
# other service fetches the token-verification keys (JWKS) from users.
INTERNAL_CALLERS = {"catalog": ("orders", "storefront"), "users": ("orders", "catalog", "storefront")}
DATABASE_SECRET_FIELDS = {
    "DB_HOST": "host",
    "DB_PORT": "port",
    "DB_NAME": "dbname",
    "DB_USER": "username",
    "DB_PASSWORD": "password",
}


class ServicesStack(SweetDreamStack):
    def __init__(
        self,
        scope: Construct,
        *,
        config: EnvironmentConfig,
        vpc: ec2.IVpc,
        nat_public_ips: Sequence[str],
        data: DataStack,
    ) -> None:
        super().__init__(
            scope,
            "Services",
            config=config,
            description=f"SweetDream {config.name}: ECS services, ALB, deployments, alarms, dashboard",
        )
        self.data = data
        self.nat_public_ips = tuple(nat_public_ips)
        unknown = set(config.gunicorn_threads) - {spec.name for spec in SERVICES}
        if unknown:
            raise ValueError(f"gunicorn_threads names services the manifest does not have: {sorted(unknown)}")

        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            name=SERVICE_NAMESPACE,
            vpc=vpc,
            description=f"SweetDream {config.name}: service-to-service names",
        )
        self.load_balancer = ShopLoadBalancer(
            self, "LoadBalancer", config=config, vpc=vpc, access_log_bucket=data.access_log_bucket
        )
        self.shop_url = self.load_balancer.url
        # By its fixed name rather than a cross-stack reference: policies then name the bucket's ARN
        # directly, and the data stack never has to keep an export alive for this one.
        self.analytics_bucket: s3.IBucket = s3.Bucket.from_bucket_name(
            self, "AnalyticsBucket", analytics_bucket_name(config, self.account)
        )
        self.deploy_application = (
            codedeploy.EcsApplication(self, "DeployApplication") if config.blue_green_services else None
        )
        image = service_image(self, "Image")

        self.services: dict[str, ShopService] = {}
        for spec in SERVICES:
            environment = self._environment(spec)
            self.services[spec.name] = ShopService(
                self,
                spec.name.capitalize(),
                config=config,
                spec=spec,
                cluster=self.cluster,
                image=image,
                load_balancer=self.load_balancer,
                environment=environment,
                calls_shop=any(value.startswith(self.shop_url) for value in environment.values()),
                secrets=self._secrets(spec),
                namespace=self.namespace if self._in_cloud_map(spec.name) else None,
                deploy_application=self.deploy_application,
            )
        self.load_balancer.route(
            {name: service.target_group for name, service in self.services.items()},
            {name: service.target_group for name, service in self.services.items()},
        )
        self._allow_internal_calls()
        self._grant_database_access()
        self._grant_token_signing()
        self._grant_analytics_read()

        self.monitoring = ShopMonitoring(self, "Monitoring", config=config)
        self.monitoring.watch_load_balancer(self.load_balancer)
        self.monitoring.watch_services(list(self.services.values()))
        self.monitoring.watch_database(data.db_instance)

        # Clearly named handles, e.g. for AnalyticsExport(scope, "Analytics", config=..., bucket=...,
        # log_groups=..., alarm_topic=...); analytics_bucket is above.
        self.service_log_groups: list[logs.ILogGroup] = [s.log_group for s in self.services.values()]
        self.alarm_topic: sns.ITopic = self.monitoring.topic
        self.analytics = AnalyticsExport(
            self,
            "Analytics",
            config=config,
            bucket=self.analytics_bucket,
            log_groups=self.service_log_groups,
            alarm_topic=self.alarm_topic,
        )

        CfnOutput(self, "ShopUrl", value=self.shop_url, description="The shop")
        CfnOutput(self, "DashboardUrl", value=self.monitoring.url, description="CloudWatch dashboard")
        CfnOutput(
            self,
            "LoadBalancerDnsName",
            value=self.load_balancer.alb.load_balancer_dns_name,
            description="Point the shop's DNS name here (alias or CNAME)",
        )

    def _in_cloud_map(self, name: str) -> bool:
        # Cloud Map does not follow CodeDeploy's traffic shifting, so only rolling services register.
        return name in INTERNAL_CALLERS and not self.config.is_blue_green(name)

    def _internal_url(self, name: str) -> str:
        return f"http://{name}.{SERVICE_NAMESPACE}:{by_name(name).port}"

    def _users_url(self) -> str:
        """Where the other services reach users (token keys, customers): inside the VPC when users
        is in Cloud Map, otherwise through the ALB, which routes /.well-known/* and /api/customers*
        to users."""
        return self._internal_url("users") if self._in_cloud_map("users") else self.shop_url

    def _environment(self, spec: ServiceSpec) -> dict[str, str]:
        config = self.config
        env = {
            "ENVIRONMENT": config.name,
            "AWS_DEFAULT_REGION": config.region,
            "LOG_LEVEL": "INFO",
            "WEB_CONCURRENCY": str(max(1, spec.cpu // 512)),
        }
        if spec.name in config.gunicorn_threads:
            env["GUNICORN_THREADS"] = str(config.gunicorn_threads[spec.name])
        if spec.name != "users":
            env["JWKS_URL"] = f"{self._users_url()}/.well-known/jwks.json"
        if has_database(spec):
            env["DB_SSLMODE"] = "verify-full"
            env["DB_SSLROOTCERT"] = RDS_CA_BUNDLE_PATH
        if spec.name == "users":
            env["KMS_KEY_ID"] = self.data.token_signing_key.key_arn
            env["AWS_REGION"] = config.region
            env["TRUSTED_PROXY_NETWORKS"] = self._trusted_proxy_networks()
        if spec.name in ("orders", "storefront"):
            env["SHIPPING_FEE_VND"] = str(config.shipping_fee_vnd)
        if spec.name == "orders":
            env["CATALOG_URL"] = self._internal_url("catalog")
            # An admin's order for someone else asks users whether that customer exists.
            env["USERS_URL"] = self._users_url()
        if spec.name == "storefront":
            env["API_BASE_URL"] = self.shop_url
            if self._in_cloud_map("catalog"):  # catalog reads skip the round trip out through the ALB
                env["CATALOG_URL"] = self._internal_url("catalog")
            env["SESSION_COOKIE_SECURE"] = str(config.https).lower()
            env["ANALYTICS_BUCKET"] = self.data.analytics_bucket.bucket_name
        return env

    def _trusted_proxy_networks(self) -> str:
        """The private ranges (ALB, tasks) and each NAT's public address: the storefront calls the shop
        URL from a private subnet, so the ALB writes the NAT's address, not the shopper's, into
        X-Forwarded-For; trusting it lets users walk on to the address the storefront passed on."""
        networks = [str(network) for network in PRIVATE_NETWORKS]
        networks += [f"{address}/32" for address in self.nat_public_ips]
        return ",".join(networks)

    def _secrets(self, spec: ServiceSpec) -> dict[str, ecs.Secret]:
        secrets = {"SECRET_KEY": ecs.Secret.from_secrets_manager(self.data.secret_keys[spec.name])}
        if has_database(spec):
            for variable, field in DATABASE_SECRET_FIELDS.items():
                secrets[variable] = ecs.Secret.from_secrets_manager(self.data.db_secrets[spec.name], field)
        if spec.name == "users":
            secrets["ADMIN_PASSWORD"] = ecs.Secret.from_secrets_manager(self.data.admin_password)
        return secrets

    def _allow_internal_calls(self) -> None:
        for callee, callers in INTERNAL_CALLERS.items():
            if not self._in_cloud_map(callee):
                continue
            target = self.services[callee]
            for caller in callers:
                target.service.connections.allow_from(
                    self.services[caller].service,
                    ec2.Port.tcp(target.spec.port),
                    f"{caller} to {callee} through Cloud Map",
                )

    def _grant_database_access(self) -> None:
        for service in self.services.values():
            if has_database(service.spec):
                # allow_to places the rule in this stack, so the data stack never refers back here.
                service.service.connections.allow_to_default_port(
                    self.data.db_instance, f"{service.spec.name} to PostgreSQL"
                )

    def _grant_token_signing(self) -> None:
        # Only the users task may sign; GetPublicKey serves the JWKS.
        self.services["users"].task_definition.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SignAccessTokens",
                actions=["kms:Sign", "kms:GetPublicKey"],
                resources=[self.data.token_signing_key.key_arn],
            )
        )

    def _grant_analytics_read(self) -> None:
        # The storefront's admin funnel chart reads the daily export.
        role = self.services["storefront"].task_definition.task_role
        bucket_arn = self.analytics_bucket.bucket_arn
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListAnalyticsExport",
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{ANALYTICS_PREFIX}/*"]}},
            )
        )
        objects = self.analytics_bucket.arn_for_objects(f"{ANALYTICS_PREFIX}/*")
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadAnalyticsExport", actions=["s3:GetObject"], resources=[objects])
        )
        acknowledge_wildcard_resource(
            role,
            objects,
            "Read-only access to the export's objects, one per "
            "hour and day, so their keys cannot be listed in advance; the "
            "prefix confines it to the export.",
        )
