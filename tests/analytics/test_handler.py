"""The Lambda entry point: payloads, the Powertools wiring, and botocore's adaptive retries."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from lambdas.analytics_export import handler
from lambdas.analytics_export.lease import LEASE_NAME, DayBusy, DayLease
from lambdas.analytics_export.sinks import day_prefix
from lambdas.analytics_export.windows import local_date, local_midnight
from tests.analytics.conftest import (
    BUCKET,
    EXPORT_DAY,
    LOG_GROUPS,
    at,
    event_line,
    put_lines,
    s3_manifest,
    s3_objects,
    s3_part_rows,
)

RETENTION_DAYS = 7


@pytest.fixture
def lambda_env(monkeypatch, logs, s3):
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("LOG_GROUP_NAMES", json.dumps(list(LOG_GROUPS.values())))
    monkeypatch.setenv("LOG_RETENTION_DAYS", str(RETENTION_DAYS))
    monkeypatch.setenv("ENVIRONMENT", "test")


def scheduled_event(moment: datetime) -> dict:
    """What EventBridge sends for `cron(0 17 * * ? *)`."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweetdream-analytics-daily"],
        "detail": {},
    }


@pytest.fixture
def log_lines():
    """The handler's structured log lines (the Powertools handler holds the stream it started with)."""
    stream = io.StringIO()
    previous = handler.logger.registered_handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.logger.registered_handler.setStream(previous)


def test_scheduled_event_exports_the_vietnam_day_that_just_ended(
    lambda_env, logs, s3, lambda_context, capsys, log_lines
):
    line = event_line(moment=at(EXPORT_DAY, 21, 45))
    put_lines(logs, "catalog", [line, event_line(moment=at(EXPORT_DAY + timedelta(days=1), 0, 1))])

    # 17:00 UTC is midnight in Vietnam: the day that just ended is EXPORT_DAY.
    response = handler.lambda_handler(scheduled_event(at(EXPORT_DAY + timedelta(days=1), 0)), lambda_context)

    assert response["date"] == EXPORT_DAY.isoformat()
    assert (response["trigger"], response["complete"]) == ("scheduled", True)
    assert response["events"] == 1 and response["hours"]["21"]["events"] == 1 and len(response["hours"]) == 24
    assert response["skippedLines"] == 0
    assert (
        response["manifest"]
        == f"s3://{BUCKET}/user-actions/year={EXPORT_DAY:%Y}/month={EXPORT_DAY:%m}/day={EXPORT_DAY:%d}/_manifest.json"
    )
    assert [row["eventId"] for row in s3_part_rows(s3, EXPORT_DAY, 21)] == [json.loads(line)["eventId"]]
    assert s3_manifest(s3, EXPORT_DAY)["runs"][0]["runId"] == lambda_context.aws_request_id

    finished = next(entry for entry in log_lines() if entry.get("message") == "export finished")
    assert finished["function_name"] == lambda_context.function_name
    assert finished["cold_start"] in (True, False)
    assert finished["export_date"] == EXPORT_DAY.isoformat() and finished["service"] == "analytics-export"
    metrics = next(
        json.loads(text) for text in capsys.readouterr().out.splitlines() if '"EventsExported"' in text
    )
    assert metrics["EventsExported"] == [1.0] and metrics["environment"] == "test"
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SweetDream"


def test_date_payload_re_exports_a_past_day(lambda_env, logs, s3, lambda_context):
    put_lines(
        logs,
        "orders",
        [
            event_line(
                "Order Completed",
                at(EXPORT_DAY, 11),
                properties={"orderId": 9, "products": [], "totalAmount": 380000},
            )
        ],
    )
    payload = {"date": EXPORT_DAY.isoformat()}

    first = handler.lambda_handler(payload, lambda_context)
    second = handler.lambda_handler(payload, lambda_context)

    assert (first["trigger"], first["complete"], first["events"]) == ("date", True, 1)
    assert (second["partsWritten"], second["partsUnchanged"]) == (0, 24)
    assert len(s3_manifest(s3, EXPORT_DAY)["runs"]) == 2


def hold(s3, day) -> DayLease:
    """Another invocation, in the middle of exporting `day`."""
    lease = DayLease(s3, BUCKET, day, run_id="hand-run", trigger="date",
                     deadline=datetime.now(UTC) + timedelta(minutes=15))
    lease.acquire(timedelta(0))
    return lease


def test_a_run_waits_while_another_exports_the_same_day(lambda_env, logs, s3, lambda_context, monkeypatch):
    put_lines(logs, "catalog", [event_line(moment=at(EXPORT_DAY, 9))])
    other = hold(s3, EXPORT_DAY)
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda seconds: (waits.append(seconds), other.release()))

    response = handler.lambda_handler({"date": EXPORT_DAY.isoformat()}, lambda_context)

    assert response["events"] == 1 and waits == [10.0]
    assert [run["runId"] for run in s3_manifest(s3, EXPORT_DAY)["runs"]] == [lambda_context.aws_request_id]
    lease = json.loads(s3_objects(s3)[day_prefix(EXPORT_DAY) + LEASE_NAME])
    assert (lease["runId"], lease["released"]) == (lambda_context.aws_request_id, True)


def test_a_hand_run_of_a_busy_day_is_answered_and_writes_nothing(
    lambda_env, logs, s3, lambda_context, monkeypatch
):
    monkeypatch.setattr(handler, "LEASE_WAIT", timedelta(0))
    put_lines(logs, "catalog", [event_line(moment=at(EXPORT_DAY, 9))])
    hold(s3, EXPORT_DAY)

    response = handler.lambda_handler({"date": EXPORT_DAY.isoformat()}, lambda_context)

    assert response["error"]["code"] == "export_in_progress"
    assert "run hand-run (date, since " in response["error"]["message"]
    assert response["error"]["details"]["runId"] == "hand-run"
    assert list(s3_objects(s3)) == [day_prefix(EXPORT_DAY) + LEASE_NAME]


def test_a_scheduled_run_of_a_busy_day_fails_so_that_lambda_tries_it_again(
    lambda_env, logs, s3, lambda_context, monkeypatch
):
    monkeypatch.setattr(handler, "LEASE_WAIT", timedelta(0))
    hold(s3, EXPORT_DAY)

    with pytest.raises(DayBusy):
        handler.lambda_handler(scheduled_event(at(EXPORT_DAY + timedelta(days=1), 0)), lambda_context)

    assert list(s3_objects(s3)) == [day_prefix(EXPORT_DAY) + LEASE_NAME]


def test_test_mode_exports_today_so_far(lambda_env, logs, s3, lambda_context):
    now = datetime.now(UTC)
    today = local_date(now)
    moment = max(now - timedelta(seconds=30), local_midnight(today))
    line = event_line("Add to Cart", moment)
    put_lines(logs, "catalog", [line])

    response = handler.lambda_handler({"test_mode": True}, lambda_context)
    after = datetime.now(UTC)

    def hour_of(when: datetime) -> int:
        return (when - local_midnight(today)) // timedelta(hours=1)

    current_hour = hour_of(moment)
    assert response["date"] == today.isoformat()
    assert (response["trigger"], response["complete"]) == ("test_mode", False)
    # The export runs up to the handler's own clock, which may be an hour past the event's
    # (it is 30 s older) when the test runs just after the hour.
    assert list(response["hours"]) in ([f"{hour:02d}" for hour in range(hour_of(clock) + 1)]
                                       for clock in (now, after))
    assert response["events"] == 1 and response["hours"][f"{current_hour:02d}"]["events"] == 1
    manifest = s3_manifest(s3, today)
    assert manifest["complete"] is False and len(manifest["parts"]) == len(response["hours"])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"date": "2025-13-01"}, "not a calendar date"),
        ({"date": "15/01/2025"}, "YYYY-MM-DD"),
        ({"date": 20250115}, "YYYY-MM-DD"),
        ({"date": (local_date(datetime.now(UTC)) + timedelta(days=1)).isoformat()}, "has not started yet"),
        (
            {"date": (local_date(datetime.now(UTC)) - timedelta(days=RETENTION_DAYS + 1)).isoformat()},
            "expired",
        ),
        ({"date": "0001-01-01"}, "outside the years 2000-2999"),  # not an OverflowError
        ({"date": EXPORT_DAY.isoformat(), "test_mode": True}, "not both"),
        ({"test_mode": "yes"}, "expected the scheduled event"),
        ({}, "expected the scheduled event"),
        ({"day": "2025-01-15"}, "unknown payload keys ['day']"),
        ([], "JSON object"),
    ],
)
def test_invalid_payloads_are_answered_without_exporting(lambda_env, s3, lambda_context, payload, message):
    response = handler.lambda_handler(payload, lambda_context)

    assert response["error"]["code"] == "invalid_request"
    assert message in response["error"]["message"]
    assert s3_objects(s3) == {}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


def test_the_logs_client_retries_throttling_adaptively(lambda_env, logs, s3, lambda_context, monkeypatch):
    """moto never throttles: answer the first FilterLogEvents calls with HTTP 400 ThrottlingException."""
    assert handler.LOGS_CLIENT_CONFIG.retries["mode"] == "adaptive"
    backoffs: list[float] = []
    monkeypatch.setattr(time, "sleep", backoffs.append)  # botocore's retry delays, recorded not waited
    put_lines(logs, "users", [event_line("User Registered", at(EXPORT_DAY, 7))])
    calls = {"throttled": 0, "sent": 0}
    total_requests = 24 * len(LOG_GROUPS)

    def throttle_twice_near_the_end(request, **_):
        # Near the end, so the rate the adaptive limiter lowers slows down only the last requests.
        calls["sent"] += 1
        if calls["sent"] >= total_requests - 1 and calls["throttled"] < 2:
            calls["throttled"] += 1
            return AWSResponse(
                request.url,
                400,
                {"Content-Type": "application/x-amz-json-1.1"},
                _Body(b'{"__type":"ThrottlingException","message":"Rate exceeded"}'),
            )
        return None

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register_first(
        "before-send.cloudwatch-logs.FilterLogEvents", throttle_twice_near_the_end
    )
    try:
        response = handler.lambda_handler({"date": EXPORT_DAY.isoformat()}, lambda_context)
    finally:
        boto3.DEFAULT_SESSION = None

    assert calls["throttled"] == 2 and calls["sent"] == total_requests + 2
    assert response["events"] == 1  # botocore absorbed both: our own backoff was not needed
    assert len([delay for delay in backoffs if delay > 0]) >= 2


def test_settings_come_from_the_environment():
    settings = handler.ExportSettings.from_environ(
        {
            "BUCKET_NAME": "b",
            "LOG_GROUP_NAMES": '["/a", "/b"]',
            "LOG_RETENTION_DAYS": "30",
            "ENVIRONMENT": "prod",
        }
    )
    assert settings == handler.ExportSettings("b", ("/a", "/b"), "user-actions", 30, "prod")
    with pytest.raises(RuntimeError, match="BUCKET_NAME and LOG_GROUP_NAMES"):
        handler.ExportSettings.from_environ({"BUCKET_NAME": "b"})
