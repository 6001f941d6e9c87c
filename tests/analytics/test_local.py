"""The local export (`make analytics`): the event log into .data/analytics, in the S3 layout."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest

from lambdas.analytics_export import local
from lambdas.analytics_export.export import export_day
from lambdas.analytics_export.payloads import ExportRequest
from lambdas.analytics_export.sinks import LocalDirectorySink, S3Sink
from lambdas.analytics_export.sources import CloudWatchLogsSource, LocalEventLogSource
from tests.analytics.conftest import BUCKET, EXPORT_DAY, LOG_GROUPS, at, event_line, put_lines, s3_objects

NEXT_DAY = EXPORT_DAY + timedelta(days=1)


def part_ids(root, day, hour) -> list[str]:
    path = LocalDirectorySink(root).day_dir(day) / f"part-{hour:02d}.jsonl.gz"
    return [json.loads(line)["eventId"] for line in gzip.decompress(path.read_bytes()).decode().splitlines()]


def write_log(path, lines) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_local_export_writes_every_day_of_the_log_in_the_s3_layout(tmp_path):
    first = event_line(moment=at(EXPORT_DAY, 0, 0))
    late = event_line("Add to Cart", at(EXPORT_DAY, 23, 59, 59, 999))
    next_day = event_line("User Login", at(NEXT_DAY, 10))
    torn_dated = late[: late.index('"properties"')]  # cut after its timestamp: counted in its day
    torn_undated = first[:20]  # cut before it: belongs to no day
    log = tmp_path / "events.jsonl"
    # Out of order, duplicated, with blank and foreign lines, as a real local log can be.
    write_log(log, [late, first, "", next_day, first, torn_dated, torn_undated, '{"level": "INFO"}'])

    with LocalEventLogSource(log, flush_every=2) as source:
        assert source.days == [EXPORT_DAY, NEXT_DAY]
        sink = LocalDirectorySink(tmp_path / "out")
        results = [export_day(ExportRequest(day, "local"), source=source, sink=sink) for day in source.days]
        assert (source.lines, source.undated) == (7, 2)  # the foreign line has no timestamp either

    day, following = (result.response() for result in results)
    assert (day["events"], day["duplicates"], day["skippedLines"]) == (2, 1, 1)
    assert day["skippedByReason"]["invalidJson"] == 1 and day["hours"]["23"]["skippedLines"] == 1
    assert following["events"] == 1
    assert part_ids(tmp_path / "out", EXPORT_DAY, 0) == [json.loads(first)["eventId"]]
    assert part_ids(tmp_path / "out", EXPORT_DAY, 23) == [json.loads(late)["eventId"]]
    assert part_ids(tmp_path / "out", NEXT_DAY, 10) == [json.loads(next_day)["eventId"]]
    expected_dir = (
        tmp_path
        / "out"
        / "user-actions"
        / f"year={EXPORT_DAY:%Y}"
        / f"month={EXPORT_DAY:%m}"
        / f"day={EXPORT_DAY:%d}"
    )
    assert sorted(path.name for path in expected_dir.iterdir()) == ["_manifest.json"] + [
        f"part-{hour:02d}.jsonl.gz" for hour in range(24)
    ]


def test_a_timestamp_beyond_what_datetime_can_place_in_vietnam_is_undatable_not_a_crash(tmp_path):
    line = event_line(moment=at(EXPORT_DAY, 5))
    log = tmp_path / "events.jsonl"
    write_log(log, [line, json.dumps({**json.loads(line), "timestamp": "0001-01-01T00:00:00+07:00"})])

    with LocalEventLogSource(log) as source:
        assert (source.days, source.undated) == ([EXPORT_DAY], 1)


def test_local_and_s3_exports_of_the_same_events_are_byte_identical(tmp_path, logs, s3):
    lines = [event_line(moment=at(EXPORT_DAY, hour, minute)) for hour in (1, 13) for minute in (5, 50)]
    put_lines(logs, "catalog", lines)
    write_log(tmp_path / "events.jsonl", lines)
    request = ExportRequest(EXPORT_DAY, "date")

    export_day(request, source=CloudWatchLogsSource(logs, list(LOG_GROUPS.values())), sink=S3Sink(s3, BUCKET))
    with LocalEventLogSource(tmp_path / "events.jsonl") as source:
        export_day(request, source=source, sink=LocalDirectorySink(tmp_path / "out"))

    for key, body in s3_objects(s3).items():
        if key.endswith(".jsonl.gz"):
            assert (tmp_path / "out" / key).read_bytes() == body


def test_make_analytics_cli_exports_and_reports(tmp_path, capsys):
    log = tmp_path / "events.jsonl"
    write_log(log, [event_line(moment=at(EXPORT_DAY, 12)), event_line(moment=at(NEXT_DAY, 12))])

    assert local.main(["--events", str(log), "--out", str(tmp_path / "analytics")]) == 0
    assert (
        local.main(
            ["--events", str(log), "--out", str(tmp_path / "analytics"), "--date", EXPORT_DAY.isoformat()]
        )
        == 0
    )

    output = capsys.readouterr()
    assert "reading events.jsonl" in output.err and f"exporting {EXPORT_DAY}" in output.err
    assert EXPORT_DAY.isoformat() in output.out and NEXT_DAY.isoformat() in output.out
    manifest = json.loads(
        (LocalDirectorySink(tmp_path / "analytics").day_dir(EXPORT_DAY) / "_manifest.json").read_text()
    )
    assert [run["partsWritten"] for run in manifest["runs"]] == [24, 0]
    assert [run["trigger"] for run in manifest["runs"]] == ["local", "local"]


def test_make_analytics_without_an_event_log_explains_what_to_do(tmp_path, capsys):
    assert local.main(["--events", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path)]) == 1
    assert "make run" in capsys.readouterr().err


def test_make_analytics_keeps_a_days_export_when_the_log_has_no_events_of_that_day(tmp_path, capsys):
    # As the Lambda refuses a day whose logs have expired: an empty export never replaces one with events.
    out, old_log, new_log = tmp_path / "analytics", tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    write_log(old_log, [event_line(moment=at(EXPORT_DAY, 12))])
    write_log(new_log, [event_line(moment=at(NEXT_DAY, 12))])
    assert local.main(["--events", str(old_log), "--out", str(out), "--date", EXPORT_DAY.isoformat()]) == 0
    day_dir = LocalDirectorySink(out).day_dir(EXPORT_DAY)
    exported = {path.name: path.read_bytes() for path in day_dir.iterdir()}
    capsys.readouterr()

    both_days = ["--date", EXPORT_DAY.isoformat(), "--date", NEXT_DAY.isoformat()]
    assert local.main(["--events", str(new_log), "--out", str(out), *both_days]) == 1

    assert {path.name: path.read_bytes() for path in day_dir.iterdir()} == exported
    err = capsys.readouterr().err
    assert f"{new_log} has no events of {EXPORT_DAY}; its existing export is kept as it is" in err
    assert not LocalDirectorySink(out).day_dir(NEXT_DAY).exists()  # refused as a whole: nothing is written
    # Without an export holding events there is nothing to keep: the day gets its empty export.
    assert local.main(["--events", str(new_log), "--out", str(tmp_path / "new"), *both_days]) == 0
    assert LocalDirectorySink(tmp_path / "new").get_manifest(EXPORT_DAY)["totalEvents"] == 0


@pytest.mark.parametrize("day, says", [("0001-01-01", "outside the years"),
                                       ("2026-02-30", "not a calendar date"), ("26-1-1", "YYYY-MM-DD")])
def test_make_analytics_refuses_a_day_it_cannot_export(tmp_path, capsys, day, says):
    with pytest.raises(SystemExit) as exited:
        local.main(["--events", str(tmp_path / "events.jsonl"), "--date", day])
    assert exited.value.code == 2 and says in capsys.readouterr().err


def test_the_benchmark_accounts_for_every_event_within_the_memory_budget(capsys):
    from lambdas.analytics_export import benchmark

    assert benchmark.main(["--events", "3000"]) == 0

    report = capsys.readouterr().out
    assert "3,000 rows in 24 parts" in report and "24 parts unchanged, 0 rewritten" in report
