"""Alerts and the dashboard of one environment."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .config import EnvironmentConfig
from .fargate_service import ShopService
from .load_balancer import ShopLoadBalancer

GIB = 1024**3
# Every alarm's description ends with this: the README table gives its threshold and on-call's first step.
RUNBOOK = 'On-call: README.md, "Alarms"'
# RDS storage autoscaling grows the disk when free space stays at or below 10% of the current
# allocation for 5 minutes, not while the previous growth's storage optimization runs (hours), and
# never past db_max_allocated_storage_gib. The current allocation is no CloudWatch metric, so the
# alarm is absolute: half that trigger at the first allocation, below which autoscaling has not
# kept up (or is at its maximum) whatever the disk has grown to, and never fires on a normal growth.
FREE_STORAGE_ALARM_PERCENT_OF_FIRST_ALLOCATION = 5
def dashboard_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}"


def free_storage_threshold_bytes(allocated_storage_gib: int) -> int:
    return allocated_storage_gib * GIB * FREE_STORAGE_ALARM_PERCENT_OF_FIRST_ALLOCATION // 100


class ShopMonitoring(Construct):
    """An encrypted SNS topic mailing the on-call address, alarms on it, and one dashboard."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        key = kms.Key(
            self,
            "AlertsKey",
            enable_key_rotation=True,
            description=f"SweetDream {config.name}: encrypts the alerts topic",
        )
        # CloudWatch alarms publish to an encrypted topic only if the key lets them.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "Alerts", display_name=f"SweetDream {config.name} alerts", master_key=key, enforce_ssl=True
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))
        self._action = cloudwatch_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self.dashboard_name = f"SweetDream-{config.name}"
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=self.dashboard_name, default_interval=Duration.hours(6)
        )
        self.url = dashboard_url(config.region, self.dashboard_name)

    def alert_on(self, alarms: Sequence[cloudwatch.Alarm]) -> None:
        for alarm in alarms:
            cfn: cloudwatch.CfnAlarm = alarm.node.default_child  # the L2 alarm has no description setter
            cfn.alarm_description = f"{cfn.alarm_description}. {RUNBOOK}"
            alarm.add_alarm_action(self._action)
            alarm.add_ok_action(self._action)
            self.alarms.append(alarm)

    def watch_load_balancer(self, load_balancer: ShopLoadBalancer) -> None:
        alb = load_balancer.alb
        elb_errors = cloudwatch.Alarm(
            self,
            "AlbErrorsAlarm",
            alarm_description="ALB answered 5xx itself (no healthy target, timeouts)",
            metric=alb.metrics.http_code_elb(
                code=elbv2.HttpCodeElb.ELB_5XX_COUNT, period=Duration.minutes(1)
            ),
            threshold=10,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alert_on([elb_errors])
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests", left=[alb.metrics.request_count(period=Duration.minutes(1))], width=8
            ),
            cloudwatch.GraphWidget(
                title="Latency p50/p95 (s)",
                width=8,
                left=[
                    alb.metrics.target_response_time(statistic="p50", period=Duration.minutes(1)),
                    alb.metrics.target_response_time(statistic="p95", period=Duration.minutes(1)),
                ],
            ),
            cloudwatch.AlarmWidget(title="ALB 5xx", alarm=elb_errors, width=8),
        )

    def watch_services(self, services: Sequence[ShopService]) -> None:
        for service in services:
            self.alert_on(service.alarms)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="CPU %",
                width=8,
                left=[s.service.metric_cpu_utilization(label=s.spec.name) for s in services],
            ),
            cloudwatch.GraphWidget(
                title="Memory %",
                width=8,
                left=[s.service.metric_memory_utilization(label=s.spec.name) for s in services],
            ),
            cloudwatch.GraphWidget(
                title="5xx % per service", width=8, left=[s.five_xx_alarm.metric for s in services]
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="p99 response time per service (s)", width=24,
                left=[s.slow_alarm.metric for s in services],
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Service alarms", width=24, alarms=[a for s in services for a in s.alarms]
            )
        )

    def watch_database(self, instance: rds.IDatabaseInstance) -> None:
        config = self.config
        connections_threshold = (
            config.db_max_connections * config.alarm_threshold_percent // 100
        )
        alarms = [
            cloudwatch.Alarm(
                self,
                "DbCpuAlarm",
                alarm_description=f"RDS CPU above {config.alarm_threshold_percent}%",
                metric=instance.metric_cpu_utilization(period=Duration.minutes(5)),
                threshold=config.alarm_threshold_percent,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
            ),
            cloudwatch.Alarm(
                self,
                "DbStorageAlarm",
                alarm_description=f"RDS free storage below "
                f"{free_storage_threshold_bytes(config.db_allocated_storage_gib) / GIB:g} GiB: storage "
                f"autoscaling (up to {config.db_max_allocated_storage_gib} GiB) has not kept up",
                metric=instance.metric_free_storage_space(period=Duration.minutes(5)),
                threshold=free_storage_threshold_bytes(config.db_allocated_storage_gib),
                evaluation_periods=2,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            ),
            cloudwatch.Alarm(
                self,
                "DbConnectionsAlarm",
                alarm_description=f"RDS connections above {config.alarm_threshold_percent}% "
                "of max_connections",
                metric=instance.metric_database_connections(period=Duration.minutes(5)),
                threshold=connections_threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
            ),
        ]
        self.alert_on(alarms)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="RDS CPU %", left=[instance.metric_cpu_utilization()], width=8),
            cloudwatch.GraphWidget(
                title="RDS connections", left=[instance.metric_database_connections()], width=8
            ),
            cloudwatch.GraphWidget(
                title="RDS free storage (bytes)", left=[instance.metric_free_storage_space()], width=8
            ),
        )
