"""Lambda entry point: export the Vietnam-local day that just ended (or the one asked for) to S3.

Configured by the CDK construct (stacks/analytics.py) through these environment variables:
    BUCKET_NAME            the analytics bucket
    LOG_GROUP_NAMES        JSON list of the service log groups to read
    EXPORT_PREFIX          key prefix of the partitions (default user-actions)
    LOG_RETENTION_DAYS     the log groups' retention: older days cannot be re-exported
    ENVIRONMENT            dev | prod, a metric dimension
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from .export import DayExport, export_day, utcnow
from .lease import DayBusy, DayLease
from .payloads import SCHEDULED, InvalidRequest, resolve
from .sinks import EXPORT_PREFIX, S3Sink
from .sources import CloudWatchLogsSource

SERVICE = "analytics-export"
METRICS_NAMESPACE = "SweetDream"
# Adaptive mode adds client-side rate limiting to the retries: FilterLogEvents allows only a few
# requests per second per account, shared with everyone else reading logs.
LOGS_CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=30
)
S3_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
# How long a run waits for another run of the same day to finish (lease.py). A scheduled run that
# still finds the day busy fails, and Lambda tries it again 1 and then 2 minutes later: together
# longer than any run can hold a day (the 15-minute timeout plus a minute).
LEASE_WAIT = timedelta(minutes=5)

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


@dataclass(frozen=True)
class ExportSettings:
    bucket: str
    log_group_names: tuple[str, ...]
    prefix: str = EXPORT_PREFIX
    log_retention_days: int | None = None
    environment: str = "local"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> ExportSettings:
        groups = json.loads(environ.get("LOG_GROUP_NAMES") or "[]")
        if not environ.get("BUCKET_NAME") or not groups:
            raise RuntimeError("BUCKET_NAME and LOG_GROUP_NAMES must be set")
        retention = environ.get("LOG_RETENTION_DAYS")
        return cls(
            bucket=environ["BUCKET_NAME"],
            log_group_names=tuple(groups),
            prefix=environ.get("EXPORT_PREFIX") or EXPORT_PREFIX,
            log_retention_days=int(retention) if retention else None,
            environment=environ.get("ENVIRONMENT", "local"),
        )


@logger.inject_lambda_context(log_event=True, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ExportSettings.from_environ()
    metrics.add_dimension(name="environment", value=settings.environment)
    try:
        request = resolve(event, now=utcnow(), log_retention_days=settings.log_retention_days)
    except InvalidRequest as error:
        # A mistyped manual payload is answered, not raised: it must not trip the error alarm.
        logger.warning("invalid export request", extra={"reason": str(error)})
        metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        return {"error": {"code": "invalid_request", "message": str(error), "details": None}}

    logger.append_keys(export_date=request.day.isoformat(), trigger=request.trigger)
    source = CloudWatchLogsSource(boto3.client("logs", config=LOGS_CLIENT_CONFIG), settings.log_group_names)
    s3 = boto3.client("s3", config=S3_CLIENT_CONFIG)
    sink = S3Sink(s3, settings.bucket, prefix=settings.prefix)
    lease = DayLease(
        s3,
        settings.bucket,
        request.day,
        run_id=context.aws_request_id,
        trigger=request.trigger,
        deadline=utcnow() + timedelta(milliseconds=context.get_remaining_time_in_millis()),
        prefix=settings.prefix,
    )
    try:
        with lease.held(LEASE_WAIT):
            response = _export(request, source, sink, context.aws_request_id).response()
    except DayBusy as busy:
        metrics.add_metric(name="BusyDays", unit=MetricUnit.Count, value=1)
        if request.trigger == SCHEDULED:
            raise  # tried again by Lambda (above); a hand re-run is answered instead
        logger.warning("day busy", extra={"reason": str(busy)})
        details = busy.holder.as_dict() if busy.holder else None
        return {"error": {"code": "export_in_progress", "message": str(busy), "details": details}}

    metrics.add_metric(name="EventsExported", unit=MetricUnit.Count, value=response["events"])
    metrics.add_metric(name="SkippedLines", unit=MetricUnit.Count, value=response["skippedLines"])
    metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=response["duplicates"])
    metrics.add_metric(name="FilterLogEventsRetries", unit=MetricUnit.Count, value=source.stats.retries)
    logger.info(
        "export finished",
        extra={
            "result": {key: value for key, value in response.items() if key != "hours"},
            "requests": source.stats.requests,
            "pages": source.stats.pages,
        },
    )
    return response


@tracer.capture_method(capture_response=False)
def _export(request, source: CloudWatchLogsSource, sink: S3Sink, run_id: str) -> DayExport:
    def log_hour(window, batch, part, written) -> None:
        logger.info(
            "hour exported",
            extra={
                "hour": window.label,
                "events": part.events,
                "skipped_lines": batch.skipped_total,
                "duplicates": batch.duplicates,
                "written": written,
            },
        )

    return export_day(request, source=source, sink=sink, run_id=run_id, on_hour=log_hour)
