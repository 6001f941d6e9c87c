"""The export core against moto CloudWatch Logs and S3: issue 8, "Must show" 1."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from lambdas.analytics_export.dedupe import fits
from lambdas.analytics_export.sinks import MANIFEST_NAME, S3Sink, day_prefix, part_name
from lambdas.analytics_export.sources import QUERY_MARGIN, USER_ACTION_FILTER, RetryPolicy
from services.kit.events import ENVELOPE_FIELDS, PROPERTY_TYPES
from tests.analytics.conftest import (
    BUCKET,
    EXPORT_DAY,
    LOG_GROUPS,
    FlakyLogs,
    at,
    event_line,
    put_lines,
    s3_manifest,
    s3_objects,
    s3_part_rows,
)

DAY_BEFORE, DAY_AFTER = EXPORT_DAY - timedelta(days=1), EXPORT_DAY + timedelta(days=1)


def event_id(line: str) -> str:
    return json.loads(line)["eventId"]


def ids(rows: list[dict]) -> list[str]:
    return [row["eventId"] for row in rows]


def part_key(day, hour: int) -> str:
    return day_prefix(day) + part_name(hour)


def non_empty_parts(s3) -> dict[str, list[str]]:
    """Event ids of every exported part that holds any, by object key."""
    found = {}
    for key, body in s3_objects(s3).items():
        if key.endswith(".jsonl.gz") and (lines := gzip.decompress(body).decode().splitlines()):
            found[key] = [json.loads(line)["eventId"] for line in lines]
    return found


def test_events_either_side_of_17_utc_land_in_their_vietnam_day_and_hour(logs, s3, run_export):
    midnight = at(EXPORT_DAY, 0)
    assert (midnight.hour, midnight.minute, midnight.second) == (17, 0, 0)
    previous_day_last = event_line(moment=midnight - timedelta(milliseconds=1))
    first = event_line(moment=midnight)
    last = event_line(moment=at(DAY_AFTER, 0) - timedelta(milliseconds=1))
    next_day_first = event_line(moment=at(DAY_AFTER, 0))
    # Stamped 10 ms before midnight but ingested 40 ms after it: its own timestamp decides.
    ingested_late = event_line(moment=midnight - timedelta(milliseconds=10))
    put_lines(
        logs,
        "catalog",
        [
            previous_day_last,
            first,
            last,
            next_day_first,
            (midnight + timedelta(milliseconds=40), ingested_late),
        ],
    )

    runs = {day: run_export(day).response for day in (DAY_BEFORE, EXPORT_DAY, DAY_AFTER)}

    assert non_empty_parts(s3) == {
        part_key(DAY_BEFORE, 23): [event_id(ingested_late), event_id(previous_day_last)],
        part_key(EXPORT_DAY, 0): [event_id(first)],
        part_key(EXPORT_DAY, 23): [event_id(last)],
        part_key(DAY_AFTER, 0): [event_id(next_day_first)],
    }
    assert [runs[day]["events"] for day in (DAY_BEFORE, EXPORT_DAY, DAY_AFTER)] == [2, 2, 1]
    assert all(run["skippedLines"] == 0 for run in runs.values())


def test_every_hour_of_the_day_is_exported_not_only_the_morning(logs, s3, run_export):
    # The original lost everything after 09:00: one event in each local hour, plus 09:00 UTC.
    lines = [event_line(moment=at(EXPORT_DAY, hour, 30)) for hour in range(24)]
    put_lines(logs, "catalog", lines)

    response = run_export().response

    assert {hour: counts["events"] for hour, counts in response["hours"].items()} == {
        f"{hour:02d}": 1 for hour in range(24)
    }
    for hour in range(24):
        assert ids(s3_part_rows(s3, EXPORT_DAY, hour)) == [event_id(lines[hour])]


def test_over_10000_events_in_one_hour_across_log_groups_and_pages_are_all_exported(logs, s3, run_export):
    hour_start = at(EXPORT_DAY, 10)
    sent = {}
    for service, count in (("catalog", 10_500), ("orders", 1_200), ("users", 400)):
        lines = [
            event_line(
                "Add to Cart", hour_start + timedelta(milliseconds=251 * n + len(service)), service=service
            )
            for n in range(count)
        ]
        put_lines(logs, service, lines)
        sent.update((event_id(line), line) for line in lines)
    client = FlakyLogs(logs)

    response = run_export(client=client).response

    rows = s3_part_rows(s3, EXPORT_DAY, 10)
    assert len(rows) == response["hours"]["10"]["events"] == response["events"] == 12_100
    assert set(ids(rows)) == set(sent)
    assert rows == sorted(rows, key=lambda row: (row["timestamp"], row["eventId"]))
    # moto pages at 10,000 events: the catalog hour took a second page, reached via nextToken.
    query_start = int((hour_start - QUERY_MARGIN).timestamp() * 1000)
    catalog_hour_requests = [
        request
        for request in client.requests
        if request["logGroupName"] == LOG_GROUPS["catalog"] and request["startTime"] == query_start
    ]
    assert len(catalog_hour_requests) == 2 and "nextToken" in catalog_hour_requests[1]


def test_empty_pages_that_carry_a_token_are_followed(logs, s3, run_export):
    lines = [event_line(moment=at(EXPORT_DAY, 14, minute)) for minute in range(3)]
    put_lines(logs, "orders", lines)
    client = FlakyLogs(logs, empty_pages=True)

    response = run_export(client=client).response

    assert client.empty_pages_served >= 24 * len(LOG_GROUPS)
    assert response["events"] == 3
    assert ids(s3_part_rows(s3, EXPORT_DAY, 14)) == [event_id(line) for line in lines]


def test_the_same_event_in_two_log_groups_is_exported_once(logs, s3, run_export):
    shared = event_line(moment=at(EXPORT_DAY, 8, 15))
    # An event without eventId (an old writer) is deduplicated on its content instead.
    anonymous = json.loads(event_line("Product Search", at(EXPORT_DAY, 8, 20)))
    del anonymous["eventId"]
    anonymous_line = json.dumps(anonymous)
    other_anonymous = json.dumps({**anonymous, "sessionId": "session-2"})
    put_lines(logs, "catalog", [shared, anonymous_line])
    put_lines(logs, "storefront", [shared, anonymous_line, other_anonymous])

    response = run_export().response

    rows = s3_part_rows(s3, EXPORT_DAY, 8)
    assert [row["eventId"] for row in rows] == [event_id(shared), None, None]
    assert sorted(row["sessionId"] for row in rows[1:]) == ["session-1", "session-2"]
    assert response["duplicates"] == response["hours"]["08"]["duplicates"] == 2
    assert response["events"] == 3


def test_rows_carry_exactly_the_kit_envelope(logs, s3, run_export):
    line = json.loads(event_line(moment=at(EXPORT_DAY, 3)))
    put_lines(logs, "catalog", [json.dumps({**line, "debug": "not part of the envelope"})])

    run_export()

    (row,) = s3_part_rows(s3, EXPORT_DAY, 3)
    assert tuple(row) == ENVELOPE_FIELDS
    assert row == line


def test_a_second_run_writes_byte_identical_objects_and_appends_a_run(logs, s3, run_export):
    put_lines(
        logs,
        "catalog",
        [event_line(moment=at(EXPORT_DAY, hour, 5 * n)) for hour in (0, 9, 23) for n in range(5)],
    )
    first = run_export().response
    parts_before = {key: body for key, body in s3_objects(s3).items() if not key.endswith(MANIFEST_NAME)}
    versions_before = s3.list_object_versions(Bucket=BUCKET, Prefix="user-actions/")["Versions"]

    second = run_export().response

    parts_after = {key: body for key, body in s3_objects(s3).items() if not key.endswith(MANIFEST_NAME)}
    assert parts_after == parts_before and len(parts_after) == 24
    assert (first["partsWritten"], second["partsWritten"], second["partsUnchanged"]) == (24, 0, 24)
    # No new object versions for parts: identical objects are not even re-uploaded.
    versions_after = s3.list_object_versions(Bucket=BUCKET, Prefix="user-actions/")["Versions"]
    assert [v for v in versions_after if not v["Key"].endswith(MANIFEST_NAME)] == [
        v for v in versions_before if not v["Key"].endswith(MANIFEST_NAME)
    ]
    manifest = s3_manifest(s3, EXPORT_DAY)
    assert [run["runId"] for run in manifest["runs"]] == [first["runId"], second["runId"]]
    assert [run["partsWritten"] for run in manifest["runs"]] == [24, 0]
    assert manifest["totalEvents"] == 15
    # No part changed, so the complete manifest stood until the second run's own replaced it.
    manifests = [v for v in versions_after if v["Key"].endswith(MANIFEST_NAME)]
    assert len(manifests) == 1 + 1 + 1  # the first run's in-progress and final ones, the second's


def test_a_run_that_fails_part_way_leaves_a_manifest_that_says_so(logs, s3, run_export, monkeypatch):
    put_lines(logs, "catalog", [event_line(moment=at(EXPORT_DAY, hour, 5)) for hour in range(24)])
    first = run_export().response
    put_lines(logs, "orders", [event_line(moment=at(EXPORT_DAY, hour, 30)) for hour in (3, 20)])
    seen = {}  # what a reader of the manifest finds as each part is rewritten
    put_part = S3Sink.put_part

    def put_part_failing_at_20(self, day, part):
        seen[part.hour] = s3_manifest(s3, day)
        if part.hour == 20:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "Internal"}}, "PutObject")
        put_part(self, day, part)

    with monkeypatch.context() as patch, pytest.raises(ClientError, match="InternalError"):
        patch.setattr(S3Sink, "put_part", put_part_failing_at_20)
        run_export()

    # Part 03 changed, so the first run's counts and sha256 no longer held, before it and after the failure.
    for manifest in (seen[3], s3_manifest(s3, EXPORT_DAY)):
        assert manifest["complete"] is False and manifest.get("status") == "exporting"
        assert manifest["parts"] == [] and manifest["totalEvents"] is None
        assert [run["runId"] for run in manifest["runs"]] == [first["runId"]]
    assert sorted(seen) == [3, 20]  # only changed parts are written

    third = run_export().response

    manifest = s3_manifest(s3, EXPORT_DAY)
    assert (manifest["complete"], manifest["status"], manifest["totalEvents"]) == (True, "exported", 26)
    assert "exportingRun" not in manifest
    assert [run["runId"] for run in manifest["runs"]] == [first["runId"], third["runId"]]
    assert third["partsWritten"] == 1  # part-20


def test_parts_are_reproducible_gzip_with_checksums_in_the_manifest(logs, s3, run_export):
    put_lines(logs, "catalog", [event_line(moment=at(EXPORT_DAY, 12))])
    run_export()

    manifest = s3_manifest(s3, EXPORT_DAY)
    objects = s3_objects(s3)
    for part in manifest["parts"]:
        key = part["location"].removeprefix(f"s3://{BUCKET}/")
        body = objects[key]
        assert part["sha256"] == hashlib.sha256(body).hexdigest() and part["bytes"] == len(body)
        assert body[4:8] == b"\0\0\0\0"  # gzip MTIME field
        assert body[10 : 10 + len(f"part-{part['hour']}.jsonl")] == f"part-{part['hour']}.jsonl".encode()
    head = s3.head_object(Bucket=BUCKET, Key=part_key(EXPORT_DAY, 12))
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["sha256"] == manifest["parts"][12]["sha256"]


def test_malformed_lines_are_counted_and_skipped_without_stopping_the_export(logs, s3, run_export):
    good = event_line(moment=at(EXPORT_DAY, 6))
    base = json.loads(event_line(moment=at(EXPORT_DAY, 6, 1)))
    malformed = [
        json.dumps({**base, "timestamp": "yesterday-ish"}),
        json.dumps({**base, "timestamp": "2025-01-01T10:00:00"}),  # no offset: the hour is unknowable
        json.dumps({**base, "event": "Product Teleported"}),
        json.dumps({**base, "properties": "productId=1"}),
        json.dumps({**base, "eventId": 12345}),
    ]
    noise = [  # what else a service logs: the server-side filter drops it, moto does not
        "[2025-01-01 10:00:00 +0000] [7] [INFO] Booting worker with pid: 7",
        json.dumps({"level": "INFO", "message": "GET /api/products 200", "requestId": "r-1"}),
        json.dumps({"type": "access", "path": "/health"}),
    ]
    moment = at(EXPORT_DAY, 6, 2)
    put_lines(logs, "catalog", [good] + [(moment, line) for line in malformed + noise])
    client = FlakyLogs(logs)

    response = run_export(client=client).response

    assert ids(s3_part_rows(s3, EXPORT_DAY, 6)) == [event_id(good)]
    assert response["skippedLines"] == response["hours"]["06"]["skippedLines"] == 5
    assert response["skippedByReason"] == {
        "invalidJson": 0,
        "notAnEvent": 0,
        "badTimestamp": 2,
        "unknownEvent": 1,
        "badField": 2,
        "outsideWindow": 0,
    }
    manifest = s3_manifest(s3, EXPORT_DAY)
    assert manifest["skippedLines"] == 5 and manifest["skippedByReason"] == response["skippedByReason"]
    # Noise is not an event at all: filtered out (as CloudWatch would), not counted as malformed.
    assert {request["filterPattern"] for request in client.requests} == {USER_ACTION_FILTER}
    assert USER_ACTION_FILTER == '{ $.type = "user_action" }'


def test_properties_of_another_type_than_the_table_and_non_utc_timestamps_are_skipped(logs, s3, run_export):
    # The Hive JSON SerDe fails every query over a day that holds one value it cannot read.
    order = {
        "orderId": 9,
        "userId": 7,  # not a column: any type
        "products": [
            {"productId": 1, "name": "Tiramisu", "size": "16cm", "quantity": 1, "unitPrice": 350000,
             "categoryId": 2, "category": "Bánh Kem"}
        ],
        "subtotal": 350000,
        "shippingFee": 30000,
        "totalAmount": 380000,
    }
    good = [
        event_line(moment=at(EXPORT_DAY, 10)),
        event_line("Order Completed", at(EXPORT_DAY, 10, 1), properties=order),
        event_line(
            moment=at(EXPORT_DAY, 10, 2),
            properties={"productId": 2, "productName": "Flan", "price": None, "category": "Bánh"},
        ),
        event_line(
            "Checkout Started", at(EXPORT_DAY, 10, 3), properties={"cartTotal": 2**63 - 1, "itemCount": 1}
        ),
    ]
    wrong_types = [
        {"productId": "abc", "productName": "x", "price": "free", "category": "c"},
        {"productId": 1, "quantity": 1.5, "size": "16cm", "price": 1},
        {"productId": 1, "quantity": 1, "size": 16, "price": 1},
        {"productId": 1, "quantity": 1, "size": "16cm", "price": [1]},
        {"productId": 1, "quantity": True, "size": "16cm", "price": 1},
        {"productId": 1, "quantity": 2**31, "size": "16cm", "price": 1},
        {"productId": 1, "Quantity": "2", "size": "16cm", "price": 1},  # the SerDe ignores the case
        {"orderId": 1, "products": "lots", "totalAmount": "x"},
        {"orderId": 1, "products": [{**order["products"][0], "unitPrice": "350000"}], "totalAmount": 1},
        {"orderId": 1, "products": [None], "totalAmount": 1},
        {"orderId": 1, "products": [{**order["products"][0], "categoryId": "2"}], "totalAmount": 1},
        {"orderId": 1, "products": [{**order["products"][0], "category": 2}], "totalAmount": 1},
    ]
    base = json.loads(event_line(moment=at(EXPORT_DAY, 10, 30)))
    not_utc = [
        "2026-01-01T17:30:00.000+07:00",
        "2026-01-01T10:30:00.000+00:00",
        "2026-01-01 10:30:00.000Z",
    ]
    moment = at(EXPORT_DAY, 10, 30)
    put_lines(
        logs,
        "catalog",
        good
        + [(moment, json.dumps({**base, "properties": properties})) for properties in wrong_types]
        + [(moment, json.dumps({**base, "timestamp": timestamp})) for timestamp in not_utc],
    )

    response = run_export().response

    assert ids(s3_part_rows(s3, EXPORT_DAY, 10)) == [event_id(line) for line in good]
    assert response["skippedByReason"]["badField"] == len(wrong_types)
    assert response["skippedByReason"]["badTimestamp"] == len(not_utc)
    assert response["skippedLines"] == len(wrong_types) + len(not_utc)


def test_timestamps_at_the_limits_of_datetime_are_bad_timestamps_not_a_failed_run(logs, s3, run_export):
    good = json.loads(event_line(moment=at(EXPORT_DAY, 7)))
    # 9999-12-31T23:00Z is already year 10000 in Vietnam, beyond datetime.
    nonsense = ["9999-12-31T23:00:00.000Z", "0001-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000Z"]
    moment = at(EXPORT_DAY, 7, 1)
    bad = [json.dumps({**good, "eventId": f"e{n}", "timestamp": t}) for n, t in enumerate(nonsense)]
    put_lines(logs, "catalog", [json.dumps(good)] + [(moment, line) for line in bad])

    response = run_export().response

    assert ids(s3_part_rows(s3, EXPORT_DAY, 7)) == [good["eventId"]]
    assert response["skippedByReason"]["badTimestamp"] == response["skippedLines"] == len(nonsense)


def test_timestamps_without_exactly_milliseconds_are_bad_timestamps(logs, s3, run_export):
    # The column promises the kit's form, which sorts as text: `…00.1Z` would sort after `…00.123Z`.
    good = json.loads(event_line(moment=at(EXPORT_DAY, 8, 0, 0, 123)))
    seconds = good["timestamp"][:19]  # YYYY-MM-DDTHH:MM:SS
    other_precisions = [f"{seconds}{fraction}Z" for fraction in ("", ".1", ".12", ".1234", ".123456")]
    moment = at(EXPORT_DAY, 8, 0, 1)
    bad = [json.dumps({**good, "eventId": f"e{n}", "timestamp": t}) for n, t in enumerate(other_precisions)]
    put_lines(logs, "catalog", [json.dumps(good)] + [(moment, line) for line in bad])

    response = run_export().response

    assert [row["timestamp"] for row in s3_part_rows(s3, EXPORT_DAY, 8)] == [f"{seconds}.123Z"]
    assert response["skippedByReason"]["badTimestamp"] == response["skippedLines"] == len(other_precisions)


@pytest.mark.parametrize("kind", sorted(set(PROPERTY_TYPES.values())))
def test_every_property_type_of_the_table_is_checked(kind):
    value = {"string": "x", "int": 1, "bigint": 1}.get(kind, [{"productId": 1}])
    assert fits(value, kind) and fits(None, kind) and not fits({"x": 1}, kind)


def test_a_day_with_no_events_writes_a_manifest_with_zeros(logs, s3, run_export):
    response = run_export().response

    manifest = s3_manifest(s3, EXPORT_DAY)
    assert manifest["complete"] is True
    assert (manifest["totalEvents"], manifest["skippedLines"], manifest["duplicates"]) == (0, 0, 0)
    assert set(manifest["skippedByReason"].values()) == {0}
    assert [part["events"] for part in manifest["parts"]] == [0] * 24
    assert [part["hour"] for part in manifest["parts"]] == [f"{hour:02d}" for hour in range(24)]
    for hour in (0, 23):
        assert s3_part_rows(s3, EXPORT_DAY, hour) == []
    assert response["events"] == 0 and len(response["hours"]) == 24
    assert manifest["windowStart"] == at(EXPORT_DAY, 0).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_throttling_is_retried_with_bounded_backoff(logs, s3, run_export):
    put_lines(logs, "users", [event_line("User Login", at(EXPORT_DAY, 20))])
    client = FlakyLogs(logs, throttles=3)

    run = run_export(client=client)

    assert run.response["events"] == 1
    assert run.source.stats.retries == 3 and len(run.sleeps) == 3
    assert all(0 <= delay <= RetryPolicy().max_seconds for delay in run.sleeps)
    # The throttled request is the one retried: same window, same log group, nothing skipped.
    assert client.requests[0] == client.requests[3]


def test_throttling_that_never_ends_fails_the_run_instead_of_exporting_a_partial_day(logs, s3, run_export):
    put_lines(logs, "users", [event_line("User Login", at(EXPORT_DAY, 20))])
    client = FlakyLogs(logs, throttles=100)

    with pytest.raises(ClientError, match="ThrottlingException"):
        run_export(client=client, retry=RetryPolicy(attempts=4))

    assert len(client.requests) == 4
    assert s3_objects(s3) == {}  # no manifest claims the day was exported


def test_other_client_errors_are_not_retried(logs, s3, run_export):
    logs.delete_log_group(logGroupName=LOG_GROUPS["users"])
    client = FlakyLogs(logs)

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        run_export(client=client)

    assert [request["logGroupName"] for request in client.requests] == sorted(LOG_GROUPS.values())
    assert s3_objects(s3) == {}


class S3AsTheExportRoleSeesIt:
    """Without unconditional s3:ListBucket, S3 answers 403 (not 404) for a key that does not exist."""

    def __init__(self, client) -> None:
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def _must_exist(self, operation: str, key: str) -> None:
        if "Contents" not in self.client.list_objects_v2(Bucket=BUCKET, Prefix=key):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, operation)

    def head_object(self, *, Bucket, Key):  # noqa: N803 (boto3's parameter names)
        self._must_exist("HeadObject", Key)
        return self.client.head_object(Bucket=Bucket, Key=Key)

    def get_object(self, *, Bucket, Key):  # noqa: N803
        self._must_exist("GetObject", Key)
        return self.client.get_object(Bucket=Bucket, Key=Key)


def test_the_s3_sink_never_reads_a_key_it_has_not_listed(logs, s3):
    from lambdas.analytics_export.export import export_day
    from lambdas.analytics_export.payloads import ExportRequest
    from lambdas.analytics_export.sinks import S3Sink
    from lambdas.analytics_export.sources import CloudWatchLogsSource

    put_lines(logs, "catalog", [event_line(moment=at(EXPORT_DAY, 4))])
    strict = S3AsTheExportRoleSeesIt(s3)

    def run():
        source = CloudWatchLogsSource(logs, list(LOG_GROUPS.values()))
        sink = S3Sink(strict, BUCKET)
        return export_day(ExportRequest(EXPORT_DAY, "date"), source=source, sink=sink).response()

    first, second = run(), run()  # first: nothing exists yet; second: everything does

    assert (first["partsWritten"], second["partsUnchanged"], second["events"]) == (24, 24, 1)
    assert len(s3_manifest(s3, EXPORT_DAY)["runs"]) == 2
