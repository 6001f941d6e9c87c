"""Fixtures for the analytics export: moto CloudWatch Logs and S3, real kit envelopes, a Lambda context."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from lambdas.analytics_export.sinks import MANIFEST_NAME, day_prefix, part_name
from lambdas.analytics_export.windows import local_date, local_midnight
from services.kit.events import build_event

REGION = "us-east-1"
BUCKET = "sweetdream-test-analytics"
LOG_GROUPS = {name: f"/sweetdream/test/{name}" for name in ("catalog", "orders", "storefront", "users")}
# moto accepts log events from the last 14 days only, so test days are relative to today.
EXPORT_DAY = local_date(datetime.now(UTC)) - timedelta(days=3)


@dataclass
class LambdaContext:
    function_name: str = "sweetdream-test-analytics-export"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def logs(aws):
    client = boto3.client("logs", region_name=REGION)
    for group in LOG_GROUPS.values():
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName="ecs/app/task-1")
    return client


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def at(day: date, hour: int, minute: int = 0, second: int = 0, millisecond: int = 0) -> datetime:
    """A Vietnam-local wall-clock time of `day`, as UTC."""
    return local_midnight(day) + timedelta(
        hours=hour, minutes=minute, seconds=second, milliseconds=millisecond
    )


def event_line(
    name: str = "Product Viewed",
    moment: datetime | None = None,
    *,
    service: str = "catalog",
    properties: dict | None = None,
    **envelope,
) -> str:
    """One event exactly as a service writes it (the kit's envelope), optionally altered."""
    if properties is None:
        properties = {
            "Product Viewed": {
                "productId": 1,
                "productName": "Tiramisu",
                "price": 350000,
                "category": "Mousse",
            },
            "Add to Cart": {"productId": 1, "quantity": 1, "size": "16cm", "price": 350000},
            "Product Search": {"searchQuery": "matcha", "resultsCount": 0},
        }.get(name, {})
    record = build_event(
        name,
        properties,
        service=service,
        user_id=7,
        session_id="session-1",
        request_id="request-1",
        now=moment or datetime.now(UTC),
    )
    record.update(envelope)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def log_time(line: str) -> datetime:
    return datetime.fromisoformat(json.loads(line)["timestamp"])


def put_lines(logs, service: str, lines: Iterable[str | tuple[datetime, str]]) -> None:
    """Ship lines to a service's log group the way awslogs does: ingestion time ≈ event time."""
    events = []
    for item in lines:
        moment, message = item if isinstance(item, tuple) else (log_time(item), item)
        events.append({"timestamp": int(moment.timestamp() * 1000), "message": message})
    events.sort(key=lambda event: event["timestamp"])
    for start in range(0, len(events), 10_000):
        response = logs.put_log_events(
            logGroupName=LOG_GROUPS[service],
            logStreamName="ecs/app/task-1",
            logEvents=events[start : start + 10_000],
        )
        assert not response.get("rejectedLogEventsInfo"), response


def s3_part_rows(s3, day: date, hour: int) -> list[dict]:
    body = s3.get_object(Bucket=BUCKET, Key=day_prefix(day) + part_name(hour))["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def s3_manifest(s3, day: date) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=day_prefix(day) + MANIFEST_NAME)["Body"].read())


def s3_objects(s3, prefix: str = "user-actions/") -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listing}


class FlakyLogs:
    """The moto Logs client, plus what moto never does: throttling and empty pages with a token.

    `throttles` calls fail with ThrottlingException first. With `empty_pages`, every real page is
    preceded by an empty page whose nextToken leads to it, as CloudWatch may answer.
    """

    def __init__(self, client, *, throttles: int = 0, empty_pages: bool = False) -> None:
        self.client = client
        self.throttles = throttles
        self.empty_pages = empty_pages
        self.requests: list[dict] = []
        self.empty_pages_served = 0

    def filter_log_events(self, **request):
        from botocore.exceptions import ClientError

        self.requests.append(dict(request))
        if self.throttles:
            self.throttles -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "FilterLogEvents"
            )
        token = request.pop("nextToken", None)
        if self.empty_pages and not (token or "").startswith("empty:"):
            self.empty_pages_served += 1
            return {"events": [], "nextToken": "empty:" + (token or "")}
        if token and token.startswith("empty:"):
            token = token[len("empty:") :] or None
        return self.client.filter_log_events(**request, **({"nextToken": token} if token else {}))


@dataclass
class ExportRun:
    result: object
    source: object
    sleeps: list[float]

    @property
    def response(self) -> dict:
        return self.result.response()


@pytest.fixture
def run_export(logs, s3):
    from lambdas.analytics_export.export import export_day
    from lambdas.analytics_export.payloads import ExportRequest
    from lambdas.analytics_export.sinks import S3Sink
    from lambdas.analytics_export.sources import CloudWatchLogsSource

    def run(
        day: date = EXPORT_DAY,
        *,
        client=None,
        trigger: str = "date",
        until: datetime | None = None,
        retry=None,
    ) -> ExportRun:
        sleeps: list[float] = []
        options = {"retry": retry} if retry else {}
        source = CloudWatchLogsSource(
            client or logs, list(LOG_GROUPS.values()), sleep=sleeps.append, **options
        )
        result = export_day(
            ExportRequest(day, trigger, until), source=source, sink=S3Sink(s3, BUCKET), sleep=sleeps.append
        )
        return ExportRun(result, source, sleeps)

    return run
