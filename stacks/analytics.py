"""The daily analytics export and what analysts query it with (DESIGN.md "Analytics export").

    AnalyticsExport(scope, "Analytics", config=config, bucket=bucket, log_groups=log_groups,
                    alarm_topic=topic)

- a Lambda (Powertools, arm64) that EventBridge runs at 17:00 UTC, midnight in Vietnam;
- least privilege: FilterLogEvents on the service log groups, S3 on the `user-actions/` prefix;
- an error alarm to the alerts topic;
- a Glue table over the partitions with partition projection (no MSCK REPAIR, no crawler);
- an Athena workgroup with encrypted results and the analysts' named queries;
- a managed policy to attach to analysts: that workgroup, the table and the export, read-only;
- the original's seven CloudWatch Logs Insights queries, saved as query definitions.

The Lambda package is assembled without Docker: `bundle_lambda_package` copies the handler's modules
and the kit's event envelope (services/kit/events.py) they import. Powertools comes from the
AWS-managed layer, so nothing is pip-installed at synth time.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from string import Template

from aws_cdk import (
    CfnOutput,
    Duration,
    Stack,
)
from aws_cdk import aws_athena as athena
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.analytics_export.sinks import EXPORT_PREFIX
from services.kit.events import ENVELOPE_FIELDS, EVENT_TYPE, PROPERTY_TYPES

from .base import acknowledge, acknowledge_wildcard_resource
from .config import EnvironmentConfig
from .data_stack import ATHENA_RESULTS_PREFIX
from .functions import RUNTIME, function_log_group, grant_own_logs, local_package
from .monitoring import RUNBOOK

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_SOURCE = REPO_ROOT / "lambdas" / "analytics_export"
KIT_EVENTS = REPO_ROOT / "services" / "kit" / "events.py"
# The modules the handler imports. The local CLI and the benchmark stay out of the package.
LAMBDA_MODULES = (
    "__init__.py",
    "handler.py",
    "export.py",
    "payloads.py",
    "windows.py",
    "sources.py",
    "dedupe.py",
    "sinks.py",
    "lease.py",
    "manifest.py",
)
HANDLER = "analytics_export.handler.lambda_handler"

# AWS-managed Powertools for AWS Lambda (Python) v3 layer, published per region, Python and CPU:
# arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{python}-{arch}:{version}
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27
# Sized from `make bench-analytics`: 1,000,000 events in a day peak at ~85 MB (one hour in memory).
# 1,024 MB leaves room for a day ten times bigger and buys ~0.6 vCPU for the JSON work.
MEMORY_MB = 1024
TIMEOUT = Duration.minutes(15)
SCHEDULE = events.Schedule.cron(minute="0", hour="17")  # 00:00 in Vietnam (UTC+7)
ATHENA_SCAN_LIMIT_BYTES = 10 * 1024**3  # a runaway query stops at 10 GB scanned
TABLE_NAME = "user_actions"
PROJECTED_YEARS = "2024,2050"


def powertools_layer_arn(region: str) -> str:
    python = RUNTIME.name.replace(".", "")  # python3.13 -> python313
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-arm64:{POWERTOOLS_LAYER_VERSION}"
    )


def bundle_lambda_package(output_dir: Path) -> None:
    """The deployment package: `analytics_export/` plus the kit's event envelope, nothing else."""
    package = output_dir / "analytics_export"
    package.mkdir(parents=True, exist_ok=True)
    for module in LAMBDA_MODULES:
        shutil.copyfile(LAMBDA_SOURCE / module, package / module)
    kit = output_dir / "services" / "kit"
    kit.mkdir(parents=True, exist_ok=True)
    # Empty packages: the real ones are the services' and would import their dependencies.
    (output_dir / "services" / "__init__.py").write_text('"""Only the kit\'s event envelope."""\n')
    (kit / "__init__.py").write_text('"""Only the event envelope, shared with the services."""\n')
    shutil.copyfile(KIT_EVENTS, kit / "events.py")


def table_columns() -> list[glue.CfnTable.ColumnProperty]:
    """The Athena columns: exactly the kit's envelope fields, in envelope order."""
    # The kit's property types. Glue wants lower-case names; the Hive JSON SerDe matches JSON keys
    # to them case-insensitively.
    properties = ",".join(f"{name.lower()}:{kind}" for name, kind in PROPERTY_TYPES.items())
    types = {"properties": f"struct<{properties}>"}
    return [
        glue.CfnTable.ColumnProperty(name=field.lower(), type=types.get(field, "string"))
        for field in ENVELOPE_FIELDS
    ]


# What an analyst's query needs in the workgroup: run, follow, stop and read queries, and the saved ones.
ANALYST_ATHENA_ACTIONS = [
    "athena:GetWorkGroup",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:BatchGetQueryExecution",
    "athena:ListQueryExecutions",
    "athena:GetQueryResults",
    "athena:GetQueryRuntimeStatistics",
    "athena:ListNamedQueries",
    "athena:GetNamedQuery",
    "athena:BatchGetNamedQuery",
]
# Athena writes results with the caller's credentials, and reads them back for GetQueryResults.
ANALYST_RESULTS_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


# Athena named queries over the last 30 shop days: today in Vietnam and the 29 before, the partitions
# the export writes and the admin's "30 ngày gần nhất" (Athena's current_date is UTC's). Projection
# evaluates the predicate on the partition values, so only those days are read. `timestamp` is a
# reserved word: quoted.
SHOP_TIME_ZONE = "Asia/Ho_Chi_Minh"
_SHOP_TODAY = f"date(current_timestamp AT TIME ZONE '{SHOP_TIME_ZONE}')"
_SQL_PARTS = {
    "table": TABLE_NAME,
    "last_30_days": f"date(format('%04d-%02d-%02d', year, month, day)) "
    f"BETWEEN {_SHOP_TODAY} - INTERVAL '29' DAY AND {_SHOP_TODAY}",
}
# UNNEST of an array of rows yields one column per row field, in the struct's order (Athena engine 3
# / Trino), so the alias names every field of ORDERED_PRODUCT_TYPES.
_SQL_PARTS["ordered_items"] = Template("""SELECT product_id, product_name, quantity,
         quantity * unit_price AS revenue_vnd, category_id, category, "timestamp" AS ordered_at
  FROM $table
  CROSS JOIN UNNEST(properties.products)
    AS ordered(product_id, product_name, size, quantity, unit_price, category_id, category)
  WHERE event = 'Order Completed' AND $last_30_days""").substitute(_SQL_PARTS)

_NAMED_QUERY_TEMPLATES = {
    "conversion-funnel": (
        "Sessions reaching each funnel step per day, with conversion rates (last 30 days)",
        """WITH steps AS (
  SELECT year, month, day,
         count(DISTINCT IF(event = 'Product Viewed', sessionid)) AS viewed,
         count(DISTINCT IF(event = 'Add to Cart', sessionid)) AS added_to_cart,
         count(DISTINCT IF(event = 'Checkout Started', sessionid)) AS checkout_started,
         count(DISTINCT IF(event = 'Order Completed', sessionid)) AS ordered
  FROM $table
  WHERE $last_30_days
  GROUP BY year, month, day
)
SELECT year, month, day, viewed, added_to_cart, checkout_started, ordered,
       round(100.0 * added_to_cart / nullif(viewed, 0), 1) AS view_to_cart_pct,
       round(100.0 * ordered / nullif(checkout_started, 0), 1) AS checkout_to_order_pct,
       round(100.0 * ordered / nullif(viewed, 0), 1) AS view_to_order_pct
FROM steps
ORDER BY year, month, day""",
    ),
    "best-sellers": (
        "Products by units ordered, with revenue in VND (last 30 days)",
        """WITH ordered_items AS (
  $ordered_items
)
SELECT product_id, arbitrary(product_name) AS product_name, sum(quantity) AS units,
       sum(revenue_vnd) AS revenue_vnd
FROM ordered_items
GROUP BY product_id
ORDER BY units DESC, revenue_vnd DESC
LIMIT 20""",
    ),
    "revenue-by-category": (
        "Revenue of ordered items by product category, in VND (last 30 days)",
        """WITH ordered_items AS (
  $ordered_items
), viewed_categories AS (
  -- Only for orders exported before they carried their category: the latest Product Viewed event.
  SELECT properties.productid AS product_id, max_by(properties.category, "timestamp") AS category
  FROM $table
  WHERE event = 'Product Viewed' AND $last_30_days
  GROUP BY properties.productid
), categorised AS (
  SELECT ordered_items.category_id,
         coalesce(ordered_items.category, viewed_categories.category, 'unknown') AS category,
         ordered_items.ordered_at, ordered_items.quantity, ordered_items.revenue_vnd
  FROM ordered_items LEFT JOIN viewed_categories ON viewed_categories.product_id = ordered_items.product_id
)
-- The category each item was ordered in; one row per category id (under the name it last sold as),
-- so a renamed category stays one row, as on the admin analytics page.
SELECT max_by(category, ordered_at) AS category, sum(quantity) AS units, sum(revenue_vnd) AS revenue_vnd
FROM categorised
GROUP BY category_id, IF(category_id IS NULL, category)
ORDER BY revenue_vnd DESC""",
    ),
    "repeat-customers": (
        "Customers with two or more orders: orders, spend in VND, first and last order (last 30 days)",
        """SELECT userid AS customer_id, count(DISTINCT properties.orderid) AS orders,
       sum(properties.totalamount) AS spent_vnd,
       min(from_iso8601_timestamp("timestamp")) AS first_order_at,
       max(from_iso8601_timestamp("timestamp")) AS last_order_at
FROM $table
WHERE event = 'Order Completed' AND userid IS NOT NULL AND $last_30_days
GROUP BY userid
HAVING count(DISTINCT properties.orderid) >= 2
ORDER BY orders DESC, spent_vnd DESC""",
    ),
    "searches-with-no-results": (
        "What shoppers searched for and did not find (last 30 days)",
        """SELECT lower(trim(properties.searchquery)) AS search_query, count(*) AS searches,
       count(DISTINCT sessionid) AS sessions,
       max(from_iso8601_timestamp("timestamp")) AS last_searched_at
FROM $table
WHERE event = 'Product Search' AND properties.resultscount = 0 AND $last_30_days
GROUP BY 1
ORDER BY searches DESC
LIMIT 50""",
    ),
}
NAMED_QUERIES = {
    name: (description, Template(sql).substitute(_SQL_PARTS))
    for name, (description, sql) in _NAMED_QUERY_TEMPLATES.items()
}

# The original system's seven saved CloudWatch Logs Insights queries, over the service log groups.
_EVENTS = f'filter type = "{EVENT_TYPE}"'
INSIGHTS_QUERIES = {
    "Views by product": f"""{_EVENTS} and event = "Product Viewed"
| stats count(*) as views, count_distinct(sessionId) as sessions
  by properties.productId, properties.productName
| sort views desc
| limit 50""",
    "Cart additions": f"""{_EVENTS} and event = "Add to Cart"
| stats count(*) as additions, sum(properties.quantity) as units by properties.productId, properties.size
| sort additions desc
| limit 50""",
    "Purchases": f"""{_EVENTS} and event = "Order Completed"
| fields @timestamp, properties.orderId, userId, properties.totalAmount
| sort @timestamp desc
| limit 200""",
    "Customer frequency": f"""{_EVENTS} and event = "Order Completed" and ispresent(userId)
| stats count(*) as orders, sum(properties.totalAmount) as spent, max(@timestamp) as last_order by userId
| sort orders desc
| limit 100""",
    "Best sellers": f"""{_EVENTS} and event = "Order Completed"
| fields jsonParse(@message) as order
| unnest order.properties.products into item
| stats sum(item.quantity) as units by item.productId, item.name
| sort units desc
| limit 20""",
    "Category performance": f"""{_EVENTS} and event = "Product Viewed"
| stats count(*) as views, count_distinct(sessionId) as sessions,
  count_distinct(properties.productId) as products, avg(properties.price) as average_price
  by properties.category
| sort views desc""",
    "Conversion funnel": f"""{_EVENTS}
  and event in ["Product Viewed", "Add to Cart", "Checkout Started", "Order Completed"]
| stats count_distinct(sessionId) as sessions, count(*) as events by event
| sort events desc""",
}


class AnalyticsExport(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        bucket: s3.IBucket,
        log_groups: Sequence[logs.ILogGroup],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        if not log_groups:
            raise ValueError("the export needs the service log groups to read")
        stack = Stack.of(self)
        bucket = self._same_stack_reference(bucket)
        self.function_name = f"sweetdream-{config.name}-analytics-export"
        self.database_name = f"sweetdream_{config.name}_analytics"
        self.table_name = TABLE_NAME
        self.workgroup_name = f"sweetdream-{config.name}-analytics"

        log_group = function_log_group(self, "FunctionLogs", function_name=self.function_name, config=config)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"SweetDream {config.name} analytics export",
        )
        self._grant(role, bucket=bucket, log_groups=log_groups, own_log_group=log_group)

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description="Daily export of shopper events (CloudWatch Logs) to S3 date partitions",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=local_package(LAMBDA_SOURCE, bundle_lambda_package),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "Powertools", powertools_layer_arn(config.region)
                )
            ],
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "BUCKET_NAME": bucket.bucket_name,
                "LOG_GROUP_NAMES": stack.to_json_string([group.log_group_name for group in log_groups]),
                "EXPORT_PREFIX": EXPORT_PREFIX,
                "LOG_RETENTION_DAYS": str(config.log_retention_days),
                "ENVIRONMENT": config.name,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        # Retries are safe: a re-run of a day rewrites identical objects and adds a manifest entry.
        self.function.configure_async_invoke(retry_attempts=2, max_event_age=Duration.hours(6))
        acknowledge(
            self.function,
            "L1",
            f"Pinned to {RUNTIME.name}, the newest Python the AWS-managed "
            "Powertools layer is pinned for here; moving runtime means moving the layer with it.",
        )

        self.rule = events.Rule(
            self,
            "Daily",
            schedule=SCHEDULE,
            description="Export the Vietnam-local day that just ended (17:00 UTC is midnight in Vietnam)",
            targets=[
                targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=Duration.hours(2))
            ],
        )

        self.error_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_description=f"The {config.name} analytics export failed: that day is missing from S3 "
            f"until it is re-exported (README, 'Re-export a day'). {RUNBOOK}",
            metric=self.function.metric_errors(period=Duration.hours(1), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.error_alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        self.error_alarm.add_ok_action(cloudwatch_actions.SnsAction(alarm_topic))

        self._catalog(stack, bucket)
        self._athena(bucket)
        self.analyst_policy = self._analyst_policy(stack, config, bucket)
        self.query_definitions = []
        for index, (name, query) in enumerate(INSIGHTS_QUERIES.items()):
            definition = logs.QueryDefinition(
                self,
                f"Insights{index}",
                query_definition_name=f"SweetDream-{config.name}/{name}",
                query_string=logs.QueryString(),
                log_groups=list(log_groups),
            )
            # QueryString composes fields/filter/stats only; these queries also use unnest and `in`.
            definition.node.default_child.add_property_override("QueryString", query)
            self.query_definitions.append(definition)

        CfnOutput(
            self,
            "FunctionName",
            value=self.function.function_name,
            description="Re-export a day: aws lambda invoke --function-name <this> "
            "--cli-binary-format raw-in-base64-out --cli-read-timeout 900 "
            '--payload \'{"date": "YYYY-MM-DD"}\' out.json',
        )
        CfnOutput(
            self,
            "AnalystPolicyArn",
            value=self.analyst_policy.managed_policy_arn,
            description="Attach to analysts' roles or users: Athena in the workgroup below, export read-only",
        ).override_logical_id("AnalystPolicyArn")  # the key the README names, without a hash
        CfnOutput(
            self,
            "AthenaWorkGroup",
            value=self.workgroup_name,
            description=f"Athena workgroup; table {self.database_name}.{TABLE_NAME}",
        )

    def _same_stack_reference(self, bucket: s3.IBucket) -> s3.IBucket:
        """A named bucket of another stack (the data stack's), referred to by its name.

        Its name is fixed, so this stack needs no cross-stack export for it, and the policy's
        resources (and their cdk-nag acknowledgements) read the same before and after synthesis.
        """
        if Stack.of(bucket) is Stack.of(self):
            return bucket
        physical_name = getattr(bucket.node.default_child, "bucket_name", None)
        if not isinstance(physical_name, str):
            return bucket
        return s3.Bucket.from_bucket_name(self, "ExportBucket", physical_name)

    def _grant(
        self,
        role: iam.Role,
        *,
        bucket: s3.IBucket,
        log_groups: Sequence[logs.ILogGroup],
        own_log_group: logs.ILogGroup,
    ) -> None:
        grant_own_logs(role, own_log_group)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadServiceEventLogs",
                actions=["logs:FilterLogEvents"],
                resources=[group.log_group_arn for group in log_groups],
            )
        )
        for group in log_groups:
            acknowledge_wildcard_resource(
                role,
                group.log_group_arn,
                "The `:*` suffix of a service log group's ARN; it reaches nothing outside that log group.",
            )
        objects = bucket.arn_for_objects(f"{EXPORT_PREFIX}/*")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListExportPrefix",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{EXPORT_PREFIX}/*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWriteExport", actions=["s3:GetObject", "s3:PutObject"], resources=[objects]
            )
        )
        acknowledge_wildcard_resource(
            role,
            objects,
            "Parts and manifests are one object per day and hour "
            f"under {EXPORT_PREFIX}/; the prefix confines access to the export.",
        )
        # Active tracing adds xray:PutTraceSegments/PutTelemetryRecords, which take no resource ARN.
        acknowledge_wildcard_resource(
            role,
            "*",
            "X-Ray's PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.",
        )

    def _catalog(self, stack: Stack, bucket: s3.IBucket) -> None:
        location = f"s3://{bucket.bucket_name}/{EXPORT_PREFIX}/"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="SweetDream shopper events, one row per event"
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=stack.account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE_NAME,
                description="Shopper events exported daily; partitions are Vietnam-local days",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    "projection.enabled": "true",
                    "projection.year.type": "integer",
                    "projection.year.range": PROJECTED_YEARS,
                    "projection.month.type": "integer",
                    "projection.month.range": "1,12",
                    "projection.month.digits": "2",
                    "projection.day.type": "integer",
                    "projection.day.range": "1,31",
                    "projection.day.digits": "2",
                    "storage.location.template": location + "year=${year}/month=${month}/day=${day}/",
                },
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=name, type="int") for name in ("year", "month", "day")
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    columns=table_columns(),
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hive.hcatalog.data.JsonSerDe"
                    ),
                ),
            ),
        )
        self.table.add_resource_dependency(self.database)

    def _athena(self, bucket: s3.IBucket) -> None:
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="SweetDream analysts: results encrypted, settings enforced",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=ATHENA_SCAN_LIMIT_BYTES,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        self.named_queries = []
        for name, (description, sql) in NAMED_QUERIES.items():
            query = athena.CfnNamedQuery(
                self,
                f"Query-{name}",
                name=name,
                description=description,
                database=self.database_name,
                work_group=self.workgroup.name,
                query_string=sql,
            )
            query.add_resource_dependency(self.workgroup)
            query.add_resource_dependency(self.database)
            self.named_queries.append(query)

    def _analyst_policy(
        self, stack: Stack, config: EnvironmentConfig, bucket: s3.IBucket
    ) -> iam.ManagedPolicy:
        """Query the export in Athena and nothing more: this workgroup, this table, the export's objects
        (read) and the workgroup's results (read and write)."""

        def arn(service: str, resource: str, name: str | None = None) -> str:
            return stack.format_arn(service=service, resource=resource, resource_name=name)

        exported = bucket.arn_for_objects(f"{EXPORT_PREFIX}/*")
        results = bucket.arn_for_objects(f"{ATHENA_RESULTS_PREFIX}/*")
        policy = iam.ManagedPolicy(
            self,
            "AnalystPolicy",
            managed_policy_name=f"SweetDream-{config.name}-analyst",
            description=f"SweetDream {config.name}: query {self.database_name}.{TABLE_NAME} in Athena "
            f"workgroup {self.workgroup_name}",
            statements=[
                iam.PolicyStatement(
                    sid="QueryInTheWorkgroup",
                    actions=ANALYST_ATHENA_ACTIONS,
                    resources=[arn("athena", "workgroup", self.workgroup_name)],
                ),
                iam.PolicyStatement(
                    sid="ReadTheTable",
                    actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions"],
                    resources=[
                        arn("glue", "catalog"),
                        arn("glue", "database", self.database_name),
                        arn("glue", "table", f"{self.database_name}/{TABLE_NAME}"),
                    ],
                ),
                iam.PolicyStatement(sid="LocateTheBucket", actions=["s3:GetBucketLocation"],
                                    resources=[bucket.bucket_arn]),
                iam.PolicyStatement(
                    sid="ListTheExportAndResults",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={
                        "StringLike": {"s3:prefix": [f"{EXPORT_PREFIX}/*", f"{ATHENA_RESULTS_PREFIX}/*"]}
                    },
                ),
                iam.PolicyStatement(sid="ReadTheExport", actions=["s3:GetObject"], resources=[exported]),
                iam.PolicyStatement(sid="WriteAndReadResults", actions=ANALYST_RESULTS_ACTIONS,
                                    resources=[results]),
            ],
        )
        acknowledge_wildcard_resource(
            policy,
            exported,
            f"Read-only: the export's parts and manifests, one object per day and hour under "
            f"{EXPORT_PREFIX}/, are what Athena scans; their keys cannot be listed in advance.",
        )
        acknowledge_wildcard_resource(
            policy,
            results,
            f"Athena writes each query's result under {ATHENA_RESULTS_PREFIX}/ (the workgroup enforces this "
            "location) with the analyst's credentials and reads it back; one object per query.",
        )
        return policy
