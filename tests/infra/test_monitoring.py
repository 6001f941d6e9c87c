"""Alerts: an encrypted SNS topic to the context's address; every alarm notifies it; a dashboard."""

from __future__ import annotations

from pathlib import Path

from aws_cdk.assertions import Match

from services.manifest import SERVICES
from stacks.monitoring import GIB, RUNBOOK

from .helpers import logical_id, only, properties


def test_alerts_topic_mails_the_context_address(shop, services, config):
    topic = logical_id(shop[config.name].services.alarm_topic)
    services.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": config.alert_email, "TopicArn": {"Ref": topic}},
    )
    (props,) = [
        res["Properties"] for lid, res in services.find_resources("AWS::SNS::Topic").items() if lid == topic
    ]
    assert "KmsMasterKeyId" in props
    services.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            },
        },
    )


def test_every_alarm_notifies_the_topic(shop, services, config):
    topic = {"Ref": logical_id(shop[config.name].services.alarm_topic)}
    alarms = properties(services, "AWS::CloudWatch::Alarm")
    assert alarms
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic], alarm.get("AlarmDescription")
        assert alarm["OKActions"] == [topic]


def _descriptions(services) -> list[str]:
    return [alarm["AlarmDescription"] for alarm in properties(services, "AWS::CloudWatch::Alarm")]


def test_service_alarms_unhealthy_5xx_slow_cpu_memory_errors(services, config):
    descriptions = _descriptions(services)
    for spec in SERVICES:
        mine = [text for text in descriptions if text.startswith(f"{spec.name}:")]
        assert len(mine) == 6, mine
        assert any("ERROR lines in its log." in text for text in mine)
        assert any("unhealthy" in text for text in mine)
        assert any("5xx" in text for text in mine)
        assert any("p99 response time above 2 s." in text for text in mine)
        assert any("CPU above 80%." in text for text in mine)
        assert any("memory above 80%." in text for text in mine)
    services.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "CPUUtilization",
            "Namespace": "AWS/ECS",
            "Threshold": 80,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    services.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "MemoryUtilization", "Namespace": "AWS/ECS", "Threshold": 80}
    )


def test_five_xx_alarm_is_a_rate_over_every_target_group_of_the_service(shop, services, config):
    for name, service in shop[config.name].services.services.items():
        alarm = services.find_resources("AWS::CloudWatch::Alarm")[logical_id(service.five_xx_alarm)][
            "Properties"
        ]
        expression = only([m for m in alarm["Metrics"] if "Expression" in m])["Expression"]
        assert expression.startswith("IF(") and "100 *" in expression
        groups = {str(m["MetricStat"]["Metric"]["Dimensions"]) for m in alarm["Metrics"] if "MetricStat" in m}
        assert len(groups) == (2 if config.is_blue_green(name) else 1)
        assert alarm["Threshold"] == 5


def test_slow_responses_alarm_takes_the_worst_p99_of_every_target_group(shop, services, config):
    for name, service in shop[config.name].services.services.items():
        alarm = services.find_resources("AWS::CloudWatch::Alarm")[logical_id(service.slow_alarm)][
            "Properties"
        ]
        expression = only([m for m in alarm["Metrics"] if "Expression" in m])["Expression"]
        assert expression.startswith("MAX([")
        stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
        assert {stat["Metric"]["MetricName"] for stat in stats} == {"TargetResponseTime"}
        assert {stat["Stat"] for stat in stats} == {"p99"}
        assert len({str(stat["Metric"]["Dimensions"]) for stat in stats}) == (
            2 if config.is_blue_green(name) else 1)
        assert alarm["Threshold"] == 2
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (5, 3)


def test_database_alarms(services, config):
    descriptions = _descriptions(services)
    assert any(text.startswith("RDS CPU above 80%") for text in descriptions)
    assert any(text.startswith("RDS free storage") for text in descriptions)
    assert any(text.startswith("RDS connections") for text in descriptions)
    services.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "DatabaseConnections",
            "Namespace": "AWS/RDS",
            "Threshold": config.db_max_connections * 80 // 100,
        },
    )



def test_free_storage_alarm_fires_only_when_storage_autoscaling_has_not_kept_up(services, config):
    """RDS grows the disk at 10% free of the current allocation, which never falls below the first
    one: an alarm at that level would ring on every normal growth, so it sits at half of it."""
    (alarm,) = [a for a in properties(services, "AWS::CloudWatch::Alarm")
                if a.get("MetricName") == "FreeStorageSpace"]
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == config.db_allocated_storage_gib * GIB * 5 // 100
    assert 0 < alarm["Threshold"] < config.db_allocated_storage_gib * GIB // 10
    assert config.db_max_allocated_storage_gib > config.db_allocated_storage_gib  # autoscaling is on
    expected = {"dev": "1 GiB", "prod": "2.5 GiB"}[config.name]
    assert alarm["AlarmDescription"].startswith(f"RDS free storage below {expected}: storage autoscaling")


def test_every_alarm_points_to_the_readme_runbook(services):
    descriptions = _descriptions(services)
    assert len(descriptions) == 29  # 6 per service, ALB, 3 for RDS, the analytics export
    assert all(text.endswith(RUNBOOK) for text in descriptions), descriptions
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "\n### Alarms\n" in readme


def test_one_dashboard_per_environment(services, config):
    services.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    services.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": f"SweetDream-{config.name}"}
    )


def test_the_connections_alarm_counts_against_the_max_connections_the_database_is_given(data, config):
    """RDS's default depends on memory the template cannot know; the parameter group sets it."""
    [group] = data.find_resources("AWS::RDS::DBParameterGroup").values()
    assert group["Properties"]["Parameters"]["max_connections"] == str(config.db_max_connections)
    assert config.db_max_connections == {"dev": 80, "prod": 400}[config.name]


def test_every_error_line_of_a_service_reaches_on_call(services, config):
    """ERROR is what needs a human; a 5xx-rate alarm alone misses e.g. a cart the orders service
    gave up clearing after the order had already answered 201."""
    filters = {f["LogGroupName"]["Ref"]: f for f in properties(services, "AWS::Logs::MetricFilter")
               if f["MetricTransformations"][0]["MetricName"] == "ErrorLines"}
    assert len(filters) == len(SERVICES)
    for metric_filter in filters.values():
        assert metric_filter["FilterPattern"] == '{ ($.level = "ERROR") || ($.level = "CRITICAL") }'
        (transformation,) = metric_filter["MetricTransformations"]
        assert transformation["Dimensions"] == [{"Key": "Service", "Value": "$.service"}]
    alarms = [alarm for alarm in properties(services, "AWS::CloudWatch::Alarm")
              if alarm.get("MetricName") == "ErrorLines"]
    assert sorted(d["Value"] for a in alarms for d in a["Dimensions"]) == sorted(s.name for s in SERVICES)
    for alarm in alarms:
        assert alarm["Namespace"] == f"SweetDream/{config.name}"
        assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["Period"]) == (
            1, "GreaterThanOrEqualToThreshold", 300)
        assert alarm["TreatMissingData"] == "notBreaching"
