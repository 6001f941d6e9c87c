"""SweetDream-<Env>-Data: everything that holds state. Termination-protected in prod.

RDS PostgreSQL, the analytics and log buckets, the users service's token-signing key and the
application secrets. The services stack only references these, so it can be replaced freely.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from services.manifest import by_name

from .base import SweetDreamStack, acknowledge, https_out_security_group
from .config import DATABASE_NAME, EnvironmentConfig
from .container_image import has_database
from .database_roles import ServiceDatabaseRoles
from .functions import function_log_group
from .network_stack import ISOLATED, PRIVATE

LOG_EXPORTS = ("postgresql", "upgrade")
ANALYTICS_GLACIER_AFTER = Duration.days(90)
ANALYTICS_PREFIX = "user-actions"  # where the daily export writes (DESIGN.md "Analytics export")
ATHENA_RESULTS_PREFIX = "athena-results"  # the analytics workgroup's query output
# Long enough to re-download a recent result; Athena's query history keeps 45 days of SQL to re-run.
ATHENA_RESULTS_RETENTION = Duration.days(30)
ACCESS_LOG_RETENTION = Duration.days(365)
ALB_LOG_PREFIX = "alb"
S3_ACCESS_LOG_PREFIX = "s3-access"

MASTER_ROTATION = Duration.days(30)
ROTATION_REASON = (
    "ECS injects this value into each task when the task starts; rotating it on a schedule would "
    "leave running tasks with a stale value. Rotate it deliberately: put a new value, then start new "
    "tasks (README, 'Rotating secrets')."
)


def analytics_bucket_name(config: EnvironmentConfig, account: str) -> str:
    """Fixed, so analysts can name it and other stacks can refer to it without an export."""
    return f"sweetdream-{config.name}-analytics-{account}"


class ShopDatabase(Construct):
    """One RDS PostgreSQL instance for every service; each logs in as its own role, which owns its
    tables (stacks/database_roles.py)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, vpc: ec2.IVpc
    ) -> None:
        super().__init__(scope, construct_id)
        instance_id = f"sweetdream-{config.name}"
        # RDS creates its log groups on first write, without retention; creating them first sets it.
        self.log_groups = [
            logs.LogGroup(
                self,
                f"{export.capitalize()}Logs",
                log_group_name=f"/aws/rds/instance/{instance_id}/{export}",
                retention=config.log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
            for export in LOG_EXPORTS
        ]
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description=f"SweetDream {config.name} RDS: ingress only from the service tasks",
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17),
            instance_type=ec2.InstanceType(config.db_instance_type),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name=ISOLATED),
            security_groups=[self.security_group],
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                "sweetdream", secret_name=f"sweetdream/{config.name}/database"
            ),
            multi_az=config.db_multi_az,
            deletion_protection=config.db_deletion_protection,
            backup_retention=Duration.days(config.db_backup_days),
            preferred_backup_window="17:30-18:30",  # after the 17:00 UTC analytics export, night in Vietnam
            preferred_maintenance_window="sun:19:00-sun:20:00",
            storage_encrypted=True,
            allocated_storage=config.db_allocated_storage_gib,
            max_allocated_storage=config.db_max_allocated_storage_gib,
            storage_type=rds.StorageType.GP3,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            instance_identifier=instance_id,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            copy_tags_to_snapshot=True,
            parameter_group=rds.ParameterGroup(
                self,
                "Parameters",
                engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17),
                parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000",
                            "max_connections": str(config.db_max_connections)},
            ),
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        for log_group in self.log_groups:
            self.instance.node.add_dependency(log_group)
        self._rotate_master_login(config, vpc)
        acknowledge(
            self.instance,
            "RDS11",
            "The default PostgreSQL port is not exposed outside the VPC: the instance sits in "
            "isolated subnets, and its security group admits only the users, orders and catalog "
            "tasks, the database-roles function, the master-login rotation function and, in dev "
            "when turned on, the bastion.",
        )
        acknowledge(
            self.instance,
            "RDS6",
            "Services authenticate with Secrets Manager credentials; IAM "
            "database tokens expire after 15 minutes, which the pooled engines would need to renew.",
        )
        if not config.db_multi_az:
            acknowledge(
                self.instance,
                "RDS3",
                f"{config.name} is single-AZ to halve its cost and may be down while an AZ fails; "
                "prod is Multi-AZ.",
            )
        if not config.db_deletion_protection:
            acknowledge(
                self.instance,
                "RDS10",
                f"{config.name} is disposable and must be removable with "
                "`cdk destroy`; a final snapshot is still taken. prod has deletion protection.",
            )

    def _rotate_master_login(self, config: EnvironmentConfig, vpc: ec2.IVpc) -> None:
        """No task holds the master login (each service has its own), so it rotates on a schedule;
        its readers, the roles function and operators, fetch it afresh each time. The rotation
        function is AWS's (Serverless Application Repository); it reaches Secrets Manager through the
        NAT and PostgreSQL, nothing else."""
        self.rotation_security_group = https_out_security_group(
            self,
            "RotationSecurityGroup",
            vpc=vpc,
            description=f"SweetDream {config.name} master-login rotation: PostgreSQL and HTTPS out",
            https_to="Secrets Manager, through the NAT",
        )
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=MASTER_ROTATION,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name=PRIVATE),
            security_group=self.rotation_security_group,
        )
        application = self.rotation.node.default_child
        application.node.add_dependency(function_log_group(
            self, "RotationLogs", function_name=application.parameters["functionName"], config=config
        ))


class ShopBuckets(Construct):
    """The analytics export bucket and the access-log bucket (ALB logs, S3 server access logs)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        # ALB access logs only support SSE-S3, hence S3-managed keys here.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            versioned=False,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=ACCESS_LOG_RETENTION)],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs, "S1", "This is the access-log destination; logging it into itself would loop."
        )
        self.analytics = s3.Bucket(
            self,
            "Analytics",
            bucket_name=analytics_bucket_name(config, Stack.of(self).account),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{S3_ACCESS_LOG_PREFIX}/analytics/",
            lifecycle_rules=[
                # Glacier Instant Retrieval: a 90-day-old partition is still readable by Athena.
                s3.LifecycleRule(
                    id="glacier-after-90-days",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=ANALYTICS_GLACIER_AFTER,
                        )
                    ],
                ),
                # Re-runs overwrite parts byte-identically; old versions only need to outlive a mistake.
                s3.LifecycleRule(id="expire-old-versions", noncurrent_version_expiration=Duration.days(30)),
                # Query results are scratch output: expire them (and their versions) under their prefix only.
                s3.LifecycleRule(
                    id="expire-athena-results",
                    prefix=f"{ATHENA_RESULTS_PREFIX}/",
                    expiration=ATHENA_RESULTS_RETENTION,
                    noncurrent_version_expiration=Duration.days(1),
                ),
                # What the rule above leaves behind: a delete marker with no version under it.
                # (S3 takes this in a rule of its own, not beside a days-based expiration.)
                s3.LifecycleRule(
                    id="remove-athena-delete-markers",
                    prefix=f"{ATHENA_RESULTS_PREFIX}/",
                    expired_object_delete_marker=True,
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )


class ShopSecrets(Construct):
    """The users token-signing key and the generated application secrets."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, services: tuple[str, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        # Only the users task may sign (see the services stack); everyone verifies via JWKS.
        self.token_signing_key = kms.Key(
            self,
            "TokenSigningKey",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            alias=f"alias/sweetdream/{config.name}/token-signing",
            description="SweetDream users service: signs ES256 access tokens",
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The default key policy lets IAM policies grant use of the key, so anyone allowed kms:Sign
        # on "*" could mint tokens. The key itself refuses every other signer.
        users_task_role = Stack.of(self).format_arn(
            service="iam", region="", resource="role", resource_name=config.task_role_name("users")
        )
        self.token_signing_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheUsersTaskSigns",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Sign"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": users_task_role}},
            )
        )
        self.admin_password = secretsmanager.Secret(
            self,
            "AdminPassword",
            secret_name=f"sweetdream/{config.name}/admin-password",
            description="Password of the first SweetDream admin (admin@sweetdream.com)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=24, exclude_punctuation=True
            ),
        )
        acknowledge(
            self.admin_password,
            "SMG4",
            "Bootstrap password: the users service stores only its "
            "bcrypt hash when it creates the first admin, so rotating this secret would not change "
            "the admin's password. Admins change it in the shop.",
        )
        # One Flask signing key per service: a leak from one service cannot forge another's sessions.
        self.secret_keys = {
            name: secretsmanager.Secret(
                self,
                f"{name.capitalize()}SecretKey",
                secret_name=f"sweetdream/{config.name}/{name}/secret-key",
                description=f"Flask SECRET_KEY of the SweetDream {name} service",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=64, exclude_punctuation=True
                ),
            )
            for name in services
        }
        for secret in self.secret_keys.values():
            acknowledge(secret, "SMG4", ROTATION_REASON)


class DataStack(SweetDreamStack):
    def __init__(
        self, scope: Construct, *, config: EnvironmentConfig, vpc: ec2.IVpc, services: tuple[str, ...]
    ) -> None:
        super().__init__(
            scope,
            "Data",
            config=config,
            description=f"SweetDream {config.name}: RDS PostgreSQL, buckets, signing key, secrets",
        )
        self.database = ShopDatabase(self, "Database", config=config, vpc=vpc)
        self.service_roles = ServiceDatabaseRoles(
            self,
            "ServiceRoles",
            config=config,
            vpc=vpc,
            instance=self.database.instance,
            services=tuple(name for name in services if has_database(by_name(name))),
        )
        # A schedule starts rotating as soon as it exists: not while the roles function logs in first.
        self.database.instance.secret.node.find_child("RotationSchedule").node.add_dependency(
            self.service_roles.resource)
        self.buckets = ShopBuckets(self, "Buckets", config=config)
        self.secrets = ShopSecrets(self, "Secrets", config=config, services=services)
        # Clearly named handles for the services stack.
        self.db_instance = self.database.instance
        self.db_secrets = self.service_roles.secrets  # one login per service with tables
        self.db_security_group = self.database.security_group
        self.analytics_bucket = self.buckets.analytics
        self.access_log_bucket = self.buckets.access_logs
        self.token_signing_key = self.secrets.token_signing_key
        self.admin_password = self.secrets.admin_password
        self.secret_keys = self.secrets.secret_keys
