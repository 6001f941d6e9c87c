"""One manifest service on Fargate: task, service, target group(s), scaling, alarms, deployments."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk.ecs_codedeploy import EcsDeployment, TargetService
from constructs import Construct

from services.manifest import ServiceSpec

from .base import acknowledge, acknowledge_function_versions, acknowledge_id, https_out_security_group
from .config import EnvironmentConfig
from .container_image import dockerfile_healthcheck
from .load_balancer import ShopLoadBalancer

ALARM_PERIOD = Duration.minutes(1)
FIVE_XX_RATE_PERCENT = 5
# The slowest 1% of a service's answers, sustained. Healthy pages and orders take tens of
# milliseconds, a login's bcrypt about a second on a quarter vCPU: past this, requests are
# queueing (too few tasks, or too few threads for the waits; README "Benchmarks").
SLOW_P99_SECONDS = 2
HEALTH_CHECK_GRACE = Duration.seconds(120)  # setup (migrations) runs before gunicorn listens
BLUE_GREEN_TERMINATION_WAIT = Duration.minutes(5)  # old tasks kept this long for an instant rollback
BLUE_GREEN_TIMEOUT = Duration.minutes(45)


def rollback(config: EnvironmentConfig) -> codedeploy.AutoRollbackConfig:
    return codedeploy.AutoRollbackConfig(
        failed_deployment=True, deployment_in_alarm=not config.deploy_despite_alarms, stopped_deployment=True
    )


class ShopService(Construct):
    """A Fargate service behind the shop's ALB.

    Rolling services get the ECS deployment circuit breaker with rollback. Blue/green services get
    the CODE_DEPLOY controller, blue and green target groups and a CodeDeploy deployment group
    (canary 10% for 5 minutes, then 100%) that rolls back on failure or when the 5xx-rate or
    unhealthy-host alarm fires; `EcsDeployment` starts a CodeDeploy deployment from `cdk deploy`
    whenever the task definition changes.

    `calls_shop`: the service calls the shop's own URL (the storefront's API_BASE_URL), so it may
    leave on port 80 when that URL is plain HTTP.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        spec: ServiceSpec,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        load_balancer: ShopLoadBalancer,
        environment: Mapping[str, str],
        secrets: Mapping[str, ecs.Secret],
        namespace: servicediscovery.INamespace | None = None,
        deploy_application: codedeploy.IEcsApplication | None = None,
        calls_shop: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.blue_green = config.is_blue_green(spec.name)
        vpc = cluster.vpc

        # Named so operators and the analytics export find it; the events travel in these lines.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/sweetdream/{config.name}/{spec.name}",
            retention=config.log_retention,
            removal_policy=RemovalPolicy.RETAIN if config.termination_protection else RemovalPolicy.DESTROY,
        )

        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            family=f"sweetdream-{config.name}-{spec.name}",
            task_role=iam.Role(
                self,
                "TaskRole",
                role_name=config.task_role_name(spec.name),
                assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                description=f"SweetDream {config.name} {spec.name} task: what the application may call",
            ),
            cpu=spec.cpu,
            memory_limit_mib=spec.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.container = self.task_definition.add_container(
            "App",
            container_name=spec.name,
            image=image,
            port_mappings=[ecs.PortMapping(container_port=spec.port, name=spec.name)],
            environment={**environment, "SERVICE": spec.name, "PORT": str(spec.port)},
            secrets=dict(secrets),
            health_check=dockerfile_healthcheck(),
            stop_timeout=Duration.seconds(30),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=spec.name,
                log_group=self.log_group,
                # A slow CloudWatch Logs must not stall requests; the buffer rides out short hiccups.
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
                max_buffer_size=Size.mebibytes(25),
            ),
        )
        acknowledge(
            self.task_definition,
            "ECS2",
            "Plain environment variables hold only non-secret "
            "settings (environment name, ports, internal URLs, key ID, trusted proxy networks); "
            "every secret is an ECS secret from Secrets Manager (tests/infra assert this).",
        )
        acknowledge(
            self.task_definition,
            "IAM5[Resource::*]",
            "The execution role's "
            "ecr:GetAuthorizationToken supports no resource-level permissions; image pulls, "
            "logs and secrets are scoped to their resources.",
        )

        # Out: AWS APIs, ECR and the shop's own URL (through the NAT); PostgreSQL and the Cloud Map
        # callees get their own rules where they are granted.
        self.security_group = https_out_security_group(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"SweetDream {config.name} {spec.name} tasks",
            https_to="HTTPS: AWS APIs, ECR, the shop",
        )
        if calls_shop and not config.https:
            self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP: the shop's ALB")
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            desired_count=config.min_tasks,
            security_groups=[self.security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            health_check_grace_period=HEALTH_CHECK_GRACE,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_ecs_managed_tags=True,
            **self._deployment_options(),
            cloud_map_options=ecs.CloudMapOptions(
                name=spec.name,
                cloud_map_namespace=namespace,
                dns_record_type=servicediscovery.DnsRecordType.A,
                dns_ttl=Duration.seconds(10),
                container=self.container,
                container_port=spec.port,
            )
            if namespace is not None
            else None,
        )
        self.service.connections.allow_from(
            load_balancer.security_group, ec2.Port.tcp(spec.port), f"ALB to {spec.name}"
        )

        self.target_group = self._target_group(
            "BlueTargetGroup" if self.blue_green else "TargetGroup", config, vpc
        )
        self.service.attach_to_application_target_group(self.target_group)
        self.green_target_group = (
            self._target_group("GreenTargetGroup", config, vpc) if self.blue_green else None
        )

        scaling = self.service.auto_scale_task_count(
            min_capacity=config.min_tasks, max_capacity=config.max_tasks
        )
        scaling.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=config.cpu_target_percent,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )

        target_groups = [self.target_group] + ([self.green_target_group] if self.green_target_group else [])
        self.unhealthy_alarm = self._unhealthy_hosts_alarm(load_balancer, target_groups)
        self.five_xx_alarm = self._five_xx_rate_alarm(load_balancer, target_groups)
        threshold = config.alarm_threshold_percent
        self.cpu_alarm = self._utilization_alarm("Cpu", "CPU", self.service.metric_cpu_utilization,
                                                 threshold)
        self.memory_alarm = self._utilization_alarm("Memory", "memory",
                                                    self.service.metric_memory_utilization, threshold)
        self.slow_alarm = self._slow_responses_alarm(load_balancer, target_groups)
        self.error_lines_alarm = self._error_lines_alarm(config)
        self.alarms = [self.unhealthy_alarm, self.five_xx_alarm, self.slow_alarm, self.cpu_alarm,
                       self.memory_alarm, self.error_lines_alarm]

        self.deployment_group: codedeploy.EcsDeploymentGroup | None = None
        if self.blue_green:
            self._blue_green(load_balancer, deploy_application, config)

    def _deployment_options(self) -> dict:
        if self.blue_green:
            # CloudFormation must not touch the task definition of a CODE_DEPLOY service: the service
            # names the family only, and each new revision reaches it through CodeDeploy.
            return {
                "deployment_controller": ecs.DeploymentController(
                    type=ecs.DeploymentControllerType.CODE_DEPLOY
                ),
                "task_definition_revision": ecs.TaskDefinitionRevision.LATEST,
            }
        return {
            "deployment_controller": ecs.DeploymentController(type=ecs.DeploymentControllerType.ECS),
            "circuit_breaker": ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            "min_healthy_percent": 100,
            "max_healthy_percent": 200,
        }

    def _target_group(
        self, construct_id: str, config: EnvironmentConfig, vpc: ec2.IVpc
    ) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            self,
            construct_id,
            vpc=vpc,
            port=self.spec.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=self.spec.liveness_path,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )

    @staticmethod
    def _target_metric(
        load_balancer: ShopLoadBalancer, group: elbv2.ApplicationTargetGroup, name: str, statistic: str
    ) -> cloudwatch.Metric:
        # Built by hand: a green target group has no load balancer until CodeDeploy attaches it,
        # and the L2 metric helpers insist on one.
        return cloudwatch.Metric(
            namespace="AWS/ApplicationELB",
            metric_name=name,
            statistic=statistic,
            period=ALARM_PERIOD,
            dimensions_map={
                "LoadBalancer": load_balancer.alb.load_balancer_full_name,
                "TargetGroup": group.target_group_full_name,
            },
        )

    def _error_lines_alarm(self, config: EnvironmentConfig) -> cloudwatch.Alarm:
        """The services log at ERROR only what needs a human (a cart the orders service gave up
        clearing, a database error): every such line reaches on-call, not only a 5xx rate."""
        lines = logs.MetricFilter(
            self,
            "ErrorLines",
            log_group=self.log_group,
            metric_namespace=f"SweetDream/{config.name}",
            metric_name="ErrorLines",
            dimensions={"Service": "$.service"},
            filter_pattern=logs.FilterPattern.any(  # CRITICAL: gunicorn's worker timeouts
                logs.FilterPattern.string_value("$.level", "=", "ERROR"),
                logs.FilterPattern.string_value("$.level", "=", "CRITICAL")),
            metric_value="1",
        )
        return cloudwatch.Alarm(
            self,
            "ErrorLinesAlarm",
            alarm_description=f"{self.spec.name}: ERROR lines in its log",
            metric=lines.metric(statistic="Sum", period=Duration.minutes(5),
                                dimensions_map={"Service": self.spec.name}),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _utilization_alarm(self, construct_id: str, what: str, metric,
                           threshold: float) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            f"{construct_id}Alarm",
            alarm_description=f"{self.spec.name}: {what} above {threshold}%",
            metric=metric(period=Duration.minutes(5)),
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _worst_of_groups(self, load_balancer, groups, metric_name: str, statistic: str, key: str,
                         label: str) -> cloudwatch.MathExpression:
        """A target-group metric's worst value over the service's groups (blue and green)."""
        metrics = {
            f"{self.spec.name}_{key}{i}": self._target_metric(load_balancer, group, metric_name, statistic)
            for i, group in enumerate(groups)
        }
        return cloudwatch.MathExpression(
            expression=f"MAX([{', '.join(f'FILL({id_}, 0)' for id_ in metrics)}])",
            using_metrics=metrics,
            period=ALARM_PERIOD,
            label=f"{self.spec.name} {label}",
        )

    def _unhealthy_hosts_alarm(self, load_balancer, groups) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            "UnhealthyHostsAlarm",
            alarm_description=f"{self.spec.name}: unhealthy targets behind the ALB",
            metric=self._worst_of_groups(load_balancer, groups, "UnHealthyHostCount", "Maximum",
                                         "unhealthy", "unhealthy targets"),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _slow_responses_alarm(self, load_balancer, groups) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            "SlowResponsesAlarm",
            alarm_description=f"{self.spec.name}: p99 response time above {SLOW_P99_SECONDS} s",
            metric=self._worst_of_groups(load_balancer, groups, "TargetResponseTime", "p99",
                                         "p99_", "p99 s"),
            threshold=SLOW_P99_SECONDS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _five_xx_rate_alarm(self, load_balancer, groups) -> cloudwatch.Alarm:
        metrics = {}
        for i, group in enumerate(groups):
            metrics[f"{self.spec.name}_errors{i}"] = self._target_metric(
                load_balancer, group, "HTTPCode_Target_5XX_Count", "Sum"
            )
            metrics[f"{self.spec.name}_requests{i}"] = self._target_metric(
                load_balancer, group, "RequestCount", "Sum"
            )
        # Ids are unique per service so several services' expressions can share one graph.
        errors = " + ".join(f"FILL({key}, 0)" for key in metrics if "_errors" in key)
        requests = " + ".join(f"FILL({key}, 0)" for key in metrics if "_requests" in key)
        return cloudwatch.Alarm(
            self,
            "FiveXxRateAlarm",
            alarm_description=f"{self.spec.name}: more than {FIVE_XX_RATE_PERCENT}% of responses are 5xx",
            metric=cloudwatch.MathExpression(
                expression=f"IF(({requests}) > 0, 100 * ({errors}) / ({requests}), 0)",
                using_metrics=metrics,
                period=ALARM_PERIOD,
                label=f"{self.spec.name} 5xx %",
            ),
            threshold=FIVE_XX_RATE_PERCENT,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _blue_green(
        self,
        load_balancer: ShopLoadBalancer,
        application: codedeploy.IEcsApplication | None,
        config: EnvironmentConfig,
    ) -> None:
        if load_balancer.test_listener is None or application is None:
            raise ValueError(
                f"blue/green for {self.spec.name} needs a test listener and a CodeDeploy application"
            )
        self.deployment_group = codedeploy.EcsDeploymentGroup(
            self,
            "DeploymentGroup",
            application=application,
            service=self.service,
            blue_green_deployment_config=codedeploy.EcsBlueGreenDeploymentConfig(
                blue_target_group=self.target_group,
                green_target_group=self.green_target_group,
                listener=load_balancer.listener,
                test_listener=load_balancer.test_listener,
                termination_wait_time=BLUE_GREEN_TERMINATION_WAIT,
            ),
            deployment_config=codedeploy.EcsDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
            alarms=[self.five_xx_alarm, self.unhealthy_alarm],
            # A deployment does not start while an alarm it watches fires: not even the fix for it.
            ignore_alarm_configuration=config.deploy_despite_alarms,
            auto_rollback=rollback(config),
        )
        acknowledge(
            self.deployment_group,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSCodeDeployRoleForECS]",
            "CodeDeploy's service role uses the AWS-maintained AWSCodeDeployRoleForECS policy, which "
            "tracks the permissions ECS blue/green needs.",
        )
        acknowledge_id(
            self.service,
            "Annotation::@aws-cdk/aws-ecs:minHealthyPercent",
            "CodeDeploy starts a complete replacement task set before shifting traffic; the "
            "rolling-update percentages do not apply to CODE_DEPLOY services.",
        )
        deployment = EcsDeployment(
            deployment_group=self.deployment_group,
            target_service=TargetService(
                task_definition=self.task_definition,
                container_name=self.container.container_name,
                container_port=self.spec.port,
            ),
            auto_rollback=rollback(config),
            timeout=BLUE_GREEN_TIMEOUT,
            description=f"SweetDream {self.spec.name}: new task definition from cdk deploy",
        )
        self._acknowledge_deployment_provider(deployment)

    @staticmethod
    def _acknowledge_deployment_provider(deployment: EcsDeployment) -> None:
        """Findings inside cdklabs' EcsDeployment custom resource, which we use but do not write."""
        acknowledge(
            deployment,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "cdklabs-ecs-codedeploy gives the functions that start and watch CodeDeploy deployments "
            "AWSLambdaBasicExecutionRole and takes no role of ours. That policy lets them create and "
            "write any log group in the account, the services' (user_action lines) included; only "
            "the construct's handlers, pinned at 0.0.462, run with it.",
        )
        acknowledge_function_versions(
            deployment,
            "The provider framework invokes its own handler "
            "functions; `:*` covers their versions, nothing else.",
        )
        acknowledge(
            deployment,
            "L1",
            "cdklabs-ecs-codedeploy 0.0.462 pins nodejs22.x for its handlers, "
            "a supported runtime; the version is pinned because it is the one that works with "
            "aws-cdk-lib 2.275.",
        )
        acknowledge(
            deployment,
            "SF1",
            "The provider's waiter state machine only polls the deployment; "
            "its handler functions log every step to CloudWatch Logs.",
        )
        acknowledge(
            deployment,
            "SF2",
            "The waiter state machine is an internal poll loop of the "
            "deployment custom resource; X-Ray traces would show only wait states.",
        )
