"""The AnalyticsExport construct in a small stack of its own, synthesized once with cdk-nag on.

Issue 8, "Must show" 2: the schedule, the IAM scope, the Glue projection and the query definitions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from lambdas.analytics_export.benchmark import MEMORY_BUDGET_MB
from services.kit.events import (
    ENVELOPE_FIELDS,
    EVENT_NAMES,
    EVENT_PROPERTIES,
    ORDERED_PRODUCT_TYPES,
    PROPERTY_TYPES,
)
from services.orders.config import OrdersConfig
from stacks import analytics
from stacks.base import acknowledge
from stacks.config import DEV, PROD, EnvironmentConfig, with_context
from stacks.data_stack import ANALYTICS_PREFIX

ACCOUNT = "123456789012"
SERVICES = ("catalog", "orders", "storefront", "users")


CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]


def _config(base: EnvironmentConfig) -> EnvironmentConfig:
    """The environment's config as app.py builds it from cdk.json, with a certificate of ACCOUNT
    (config refuses cdk.json's example certificate once an account is set)."""
    certificate = f"arn:aws:acm:{base.region}:{ACCOUNT}:certificate/0d4c1f6e-5b7a-4d2e-9a3c-7e8f9a0b1c2d"
    context = {**CDK_CONTEXT, base.context_key("certificateArn"): certificate}
    return with_context(base, context.get, account=ACCOUNT)


class AnalyticsTestStack(Stack):
    """Stand-ins for what the data and services stacks hand the construct."""

    def __init__(self, scope, config: EnvironmentConfig) -> None:
        super().__init__(
            scope, f"AnalyticsTest-{config.name}", env=Environment(account=ACCOUNT, region=config.region)
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        )
        acknowledge(
            self.bucket, "S1", "Test stand-in; the real analytics bucket (data stack) logs its access."
        )
        self.log_groups = [
            logs.LogGroup(self, f"{name}Logs", log_group_name=f"/sweetdream/{config.name}/{name}")
            for name in SERVICES
        ]
        self.topic = sns.Topic(
            self, "Alerts", enforce_ssl=True, master_key=kms.Key(self, "AlertsKey", enable_key_rotation=True)
        )
        self.analytics = analytics.AnalyticsExport(
            self,
            "Analytics",
            config=config,
            bucket=self.bucket,
            log_groups=self.log_groups,
            alarm_topic=self.topic,
        )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory):
    """Dev and prod test stacks, synthesized once; synth raises on any unacknowledged cdk-nag finding."""
    outdir = tmp_path_factory.mktemp("analytics-cdk.out")
    app = App(outdir=str(outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stacks = {config.name: AnalyticsTestStack(app, _config(config)) for config in (DEV, PROD)}
    assembly = app.synth()
    return (
        stacks,
        {name: Template.from_stack(stack) for name, stack in stacks.items()},
        Path(assembly.directory),
    )


@pytest.fixture(scope="session")
def template(synthesized) -> Template:
    return synthesized[1]["dev"]


@pytest.fixture(scope="session")
def stack(synthesized) -> AnalyticsTestStack:
    return synthesized[0]["dev"]


def _ref(stack: Stack, construct) -> str:
    return stack.get_logical_id(construct.node.default_child)


def test_the_rule_runs_the_export_at_midnight_in_vietnam(template, stack):
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(0 17 * * ? *)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [_ref(stack, stack.analytics.function), "Arn"]},
                        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 7200},
                    }
                )
            ],
        },
    )


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_function_is_arm64_python_with_the_powertools_layer(synthesized, environment):
    stacks, templates, _ = synthesized
    config = _config(DEV if environment == "dev" else PROD)
    templates[environment].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": f"sweetdream-{environment}-analytics-export",
            "Runtime": Match.string_like_regexp(r"^python3\.1[2-9]$"),
            "Architectures": ["arm64"],
            "Handler": "analytics_export.handler.lambda_handler",
            "MemorySize": analytics.MEMORY_MB,
            "Timeout": 900,
            # Runs of one day take turns through a lease in S3 (lease.py), not a reserved concurrency,
            # which a new account's concurrency quota can refuse.
            "ReservedConcurrentExecutions": Match.absent(),
            "TracingConfig": {"Mode": "Active"},
            "Layers": [
                f"arn:aws:lambda:{config.region}:017000801446:layer:"
                f"AWSLambdaPowertoolsPythonV3-python313-arm64:{analytics.POWERTOOLS_LAYER_VERSION}"
            ],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "EXPORT_PREFIX": "user-actions",
                        "LOG_RETENTION_DAYS": str(config.log_retention_days),
                        "ENVIRONMENT": environment,
                        "BUCKET_NAME": {"Ref": _ref(stacks[environment], stacks[environment].bucket)},
                    }
                )
            },
        },
    )
    templates[environment].has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": f"/aws/lambda/sweetdream-{environment}-analytics-export",
            "RetentionInDays": config.log_retention_days,
        },
    )


def test_memory_is_sized_above_the_benchmarked_budget():
    # `make bench-analytics` fails if 1,000,000 events take MEMORY_BUDGET_MB or more.
    assert analytics.MEMORY_MB >= 2 * MEMORY_BUDGET_MB


def test_the_function_reads_every_service_log_group(template, stack):
    names = json.dumps([{"Ref": _ref(stack, group)} for group in stack.log_groups])
    variables = next(iter(template.find_resources("AWS::Lambda::Function").values()))["Properties"][
        "Environment"
    ]["Variables"]
    parts = variables["LOG_GROUP_NAMES"]["Fn::Join"][1]
    assert [part for part in parts if isinstance(part, dict)] == json.loads(names)


def _statements(template: Template, stack: AnalyticsTestStack) -> list[dict]:
    role = _ref(stack, stack.analytics.function.role)
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role}]}})
    assert template.find_resources("AWS::IAM::Role")[role]["Properties"].get("ManagedPolicyArns") is None
    return [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_iam_is_scoped_to_the_log_groups_and_the_export_prefix(template, stack):
    statements = _statements(template, stack)
    by_action = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            by_action.setdefault(action, []).append(statement)
    assert set(by_action) == {
        "logs:FilterLogEvents",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }

    (filter_logs,) = by_action["logs:FilterLogEvents"]
    assert filter_logs["Resource"] == [
        {"Fn::GetAtt": [_ref(stack, group), "Arn"]} for group in stack.log_groups
    ]

    bucket_arn = {"Fn::GetAtt": [_ref(stack, stack.bucket), "Arn"]}
    for action in ("s3:GetObject", "s3:PutObject"):
        (statement,) = by_action[action]
        assert statement["Resource"] == {"Fn::Join": ["", [bucket_arn, "/user-actions/*"]]}
    (listing,) = by_action["s3:ListBucket"]
    assert listing["Resource"] == bucket_arn
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["user-actions/*"]}}

    own_logs = {"Fn::GetAtt": [_ref(stack, stack.analytics.node.find_child("FunctionLogs")), "Arn"]}
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert [statement["Resource"] for statement in by_action[action]] == [own_logs]
    for statement in statements:
        if statement["Resource"] == "*":
            assert set(_as_list(statement["Action"])) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_errors_alarm_the_alerts_topic(template, stack):
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": _ref(stack, stack.analytics.function)}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": _ref(stack, stack.topic)}],
        },
    )


def test_glue_table_projects_year_month_day_partitions(template, stack):
    bucket = {"Ref": _ref(stack, stack.bucket)}
    template.has_resource_properties(
        "AWS::Glue::Database",
        {"DatabaseInput": {"Name": "sweetdream_dev_analytics", "Description": Match.any_value()}},
    )
    template.has_resource_properties(
        "AWS::Glue::Table",
        {
            "DatabaseName": "sweetdream_dev_analytics",
            "TableInput": Match.object_like(
                {
                    "Name": "user_actions",
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": Match.object_like(
                        {
                            "projection.enabled": "true",
                            "projection.year.type": "integer",
                            "projection.month.type": "integer",
                            "projection.month.range": "1,12",
                            "projection.month.digits": "2",
                            "projection.day.type": "integer",
                            "projection.day.range": "1,31",
                            "projection.day.digits": "2",
                            "storage.location.template": {
                                "Fn::Join": [
                                    "",
                                    [
                                        "s3://",
                                        bucket,
                                        "/user-actions/year=${year}/month=${month}/day=${day}/",
                                    ],
                                ]
                            },
                        }
                    ),
                    "PartitionKeys": [
                        {"Name": "year", "Type": "int"},
                        {"Name": "month", "Type": "int"},
                        {"Name": "day", "Type": "int"},
                    ],
                    "StorageDescriptor": Match.object_like(
                        {
                            "Location": {"Fn::Join": ["", ["s3://", bucket, "/user-actions/"]]},
                            "SerdeInfo": {"SerializationLibrary": "org.apache.hive.hcatalog.data.JsonSerDe"},
                        }
                    ),
                }
            ),
        },
    )
    # Projection, not MSCK REPAIR or a crawler, finds the partitions.
    template.resource_count_is("AWS::Glue::Crawler", 0)


def test_table_columns_are_the_kit_envelope(template):
    table = next(iter(template.find_resources("AWS::Glue::Table").values()))
    columns = table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    assert [column["Name"] for column in columns] == [field.lower() for field in ENVELOPE_FIELDS]
    properties = next(column["Type"] for column in columns if column["Name"] == "properties")
    # Every property the kit requires of any event is a typed field of the struct.
    for name in {key for keys in EVENT_PROPERTIES.values() for key in keys}:
        assert f"{name.lower()}:" in properties
    assert set(PROPERTY_TYPES) >= {key for keys in EVENT_PROPERTIES.values() for key in keys}
    # The types the export checks each line against (dedupe.py) are the table's.
    fields = ",".join(f"{name.lower()}:{kind}" for name, kind in PROPERTY_TYPES.items())
    assert properties == f"struct<{fields}>"
    assert analytics.EXPORT_PREFIX == ANALYTICS_PREFIX


def test_athena_workgroup_enforces_encrypted_results(template, stack):
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": "sweetdream-dev-analytics",
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "BytesScannedCutoffPerQuery": analytics.ATHENA_SCAN_LIMIT_BYTES,
                    "ResultConfiguration": {
                        "OutputLocation": {
                            "Fn::Join": [
                                "",
                                ["s3://", {"Ref": _ref(stack, stack.bucket)}, "/athena-results/"],
                            ]
                        },
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                    },
                }
            ),
        },
    )


def test_named_queries_for_the_analysts(template):
    queries = {
        query["Properties"]["Name"]: query["Properties"]
        for query in template.find_resources("AWS::Athena::NamedQuery").values()
    }
    assert sorted(queries) == [
        "best-sellers",
        "conversion-funnel",
        "repeat-customers",
        "revenue-by-category",
        "searches-with-no-results",
    ]
    for query in queries.values():
        assert (
            query["Database"] == "sweetdream_dev_analytics"
            and query["WorkGroup"] == "sweetdream-dev-analytics"
        )
        sql = query["QueryString"]
        assert "FROM user_actions" in sql and "$" not in sql
    assert "properties.resultscount = 0" in queries["searches-with-no-results"]["QueryString"]
    assert "UNNEST(properties.products)" in queries["best-sellers"]["QueryString"]
    funnel = queries["conversion-funnel"]["QueryString"]
    assert all(
        f"'{name}'" in funnel
        for name in ("Product Viewed", "Add to Cart", "Checkout Started", "Order Completed")
    )


def test_named_queries_read_the_same_30_shop_days_as_the_admin_page(template):
    # Today in Vietnam and the 29 days before, as the orders summary's default range; Athena's own
    # current_date is the UTC date, a day behind from 00:00 to 07:00 in Vietnam.
    shop_today = "date(current_timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh')"
    window = (f"date(format('%04d-%02d-%02d', year, month, day)) "
              f"BETWEEN {shop_today} - INTERVAL '29' DAY AND {shop_today}")
    assert OrdersConfig.model_fields["business_timezone"].default == analytics.SHOP_TIME_ZONE
    for query in template.find_resources("AWS::Athena::NamedQuery").values():
        sql = query["Properties"]["QueryString"]
        assert window in sql and "current_date" not in sql


def test_ordered_items_are_unnested_with_every_field_and_keep_the_category_they_were_ordered_in(template):
    queries = {
        query["Properties"]["Name"]: query["Properties"]["QueryString"]
        for query in template.find_resources("AWS::Athena::NamedQuery").values()
    }
    # Athena's UNNEST of an array of rows names the row's fields by position: all of them, in order.
    [fields] = re.findall(r"UNNEST\(properties\.products\)\s+AS ordered\(([^)]*)\)", queries["best-sellers"])
    assert fields.split(", ") == [
        "product_id", "product_name", "size", "quantity", "unit_price", "category_id", "category"]
    assert list(ORDERED_PRODUCT_TYPES) == [
        "productId", "name", "size", "quantity", "unitPrice", "categoryId", "category"]
    by_category = queries["revenue-by-category"]
    # The order's own category first; the Product Viewed lookup only for events exported before it.
    assert "coalesce(ordered_items.category, viewed_categories.category, 'unknown')" in by_category
    assert "GROUP BY category_id, IF(category_id IS NULL, category)" in by_category


def test_the_seven_logs_insights_queries_are_saved_over_the_service_log_groups(template, stack):
    definitions = {
        definition["Properties"]["Name"]: definition["Properties"]
        for definition in template.find_resources("AWS::Logs::QueryDefinition").values()
    }
    assert sorted(definitions) == sorted(
        f"SweetDream-dev/{name}"
        for name in (
            "Views by product",
            "Cart additions",
            "Purchases",
            "Customer frequency",
            "Best sellers",
            "Category performance",
            "Conversion funnel",
        )
    )
    log_groups = [{"Ref": _ref(stack, group)} for group in stack.log_groups]
    for definition in definitions.values():
        assert definition["LogGroupNames"] == log_groups
        assert definition["QueryString"].startswith('filter type = "user_action"')
    used = " ".join(definition["QueryString"] for definition in definitions.values())
    assert {name for name in EVENT_NAMES if f'"{name}"' in used} >= {
        "Product Viewed",
        "Add to Cart",
        "Checkout Started",
        "Order Completed",
    }
    assert (
        "unnest order.properties.products into item"
        in definitions["SweetDream-dev/Best sellers"]["QueryString"]
    )
