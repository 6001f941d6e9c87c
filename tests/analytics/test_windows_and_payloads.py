"""Vietnam-local hours as UTC windows, and which day each payload asks for (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lambdas.analytics_export.payloads import InvalidRequest, resolve
from lambdas.analytics_export.windows import (
    day_windows,
    last_complete_day,
    local_midnight,
    parse_timestamp,
    window_at,
)

DAY = date(2024, 12, 2)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_vietnam_day_is_24_contiguous_hours_from_17_utc_the_day_before():
    windows = day_windows(DAY)

    assert len(windows) == 24
    assert windows[0].start == utc(2024, 12, 1, 17) and windows[-1].end == utc(2024, 12, 2, 17)
    assert all(a.end == b.start for a, b in zip(windows, windows[1:], strict=False))
    assert [w.hour for w in windows] == list(range(24)) and {w.day for w in windows} == {DAY}
    # 09:00 local is 02:00 UTC, 09:00 UTC is 16:00 local: both are ordinary hours of the day.
    assert windows[9].start == utc(2024, 12, 2, 2) and windows[16].start == utc(2024, 12, 2, 9)


@pytest.mark.parametrize(
    ("moment", "day", "hour"),
    [
        (utc(2024, 12, 1, 16, 59, 59, 999_999), date(2024, 12, 1), 23),
        (utc(2024, 12, 1, 17, 0, 0), DAY, 0),
        (utc(2024, 12, 2, 9, 0, 0), DAY, 16),
        (utc(2024, 12, 2, 16, 59, 59, 999_000), DAY, 23),
        (utc(2024, 12, 2, 17, 0, 0), date(2024, 12, 3), 0),
        (utc(2024, 12, 31, 17, 0, 0), date(2025, 1, 1), 0),  # new year in Vietnam, still Dec 31 in UTC
    ],
)
def test_window_at_puts_an_instant_in_its_vietnam_hour(moment, day, hour):
    window = window_at(moment)
    assert (window.day, window.hour) == (day, hour)
    assert window == day_windows(day)[hour] and window.contains(moment)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2024, 12, 2, 17, 0, 0), DAY),  # the cron instant: midnight in Vietnam
        (utc(2024, 12, 2, 17, 4, 0), DAY),  # a late or retried invocation
        (utc(2024, 12, 2, 16, 59, 59), date(2024, 12, 1)),  # before midnight: DAY is not over yet
    ],
)
def test_last_complete_day(moment, expected):
    assert last_complete_day(moment) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-12-02T10:00:00.123Z", utc(2024, 12, 2, 10, 0, 0, 123_000)),
        ("2024-12-02T17:00:00+07:00", utc(2024, 12, 2, 10)),
        ("2024-12-02T10:00:00", None),  # naive: which zone?
        ("yesterday", None),
        ("", None),
        (1733133600000, None),
        (None, None),
        ("2024-12-02T10:00:00Z" * 3, None),
        ("0001-01-01T00:00:00+07:00", None),  # year 0 in UTC: beyond datetime
        ("9999-12-31T23:00:00Z", None),  # year 10000 in Vietnam
        ("1999-12-31T23:59:59Z", None),
        ("2999-12-31T23:59:59Z", utc(2999, 12, 31, 23, 59, 59)),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


NOW = utc(2024, 12, 5, 3, 30)  # 10:30 on Dec 5 in Vietnam


def scheduled(time: str) -> dict:
    return {"source": "aws.events", "detail-type": "Scheduled Event", "time": time, "detail": {}}


def test_scheduled_event_asks_for_the_day_that_ended_at_its_scheduled_time():
    request = resolve(scheduled("2024-12-02T17:00:00Z"), now=NOW)
    assert (request.day, request.trigger, request.complete) == (DAY, "scheduled", True)
    # A clock a little behind the schedule's is no reason to refuse the nightly run.
    assert resolve(scheduled("2024-12-05T03:34:00Z"), now=NOW).day == date(2024, 12, 4)


@pytest.mark.parametrize(
    ("time", "message"),
    [
        ("2024-12-06T17:00:00Z", "has not come yet"),  # its export would wait for the day to end
        ("2024-12-05T03:36:00Z", "has not come yet"),
        ("2024-11-28T03:00:00Z", "expired"),  # would overwrite that day's export with an empty one
    ],
)
def test_hand_made_scheduled_events_for_days_the_export_cannot_do_are_refused(time, message):
    with pytest.raises(InvalidRequest, match=message):
        resolve(scheduled(time), now=NOW, log_retention_days=7)


def test_date_payload_asks_for_that_whole_day_and_today_means_so_far():
    assert resolve({"date": "2024-12-02"}, now=NOW).until is None
    today = resolve({"date": "2024-12-05"}, now=NOW)
    assert (today.day, today.until, today.complete) == (date(2024, 12, 5), NOW, False)


def test_test_mode_asks_for_today_so_far():
    request = resolve({"test_mode": True}, now=NOW)
    assert (request.day, request.trigger, request.until) == (date(2024, 12, 5), "test_mode", NOW)


def test_retention_bounds_how_far_back_a_day_can_be_re_exported():
    # Day starts at 17:00 UTC the day before; 7 days of retention from NOW reach back to Nov 28 03:30 UTC.
    assert resolve({"date": "2024-11-29"}, now=NOW, log_retention_days=7).day == date(2024, 11, 29)
    with pytest.raises(InvalidRequest, match="expired"):
        resolve({"date": "2024-11-28"}, now=NOW, log_retention_days=7)
    assert local_midnight(date(2024, 11, 28)) < NOW - timedelta(days=7)


@pytest.mark.parametrize(
    "payload",
    [
        {"date": "2024-12-06"},
        {"date": "2024-02-30"},
        {"date": "2024-1-2"},
        {"date": "0001-01-01"},  # its midnight in Vietnam is in year 0 in UTC: OverflowError
        {"date": "1999-12-31"},
        {"date": None},
        {"test_mode": False},
        {"test_mode": 1},
        {"date": "2024-12-02", "test_mode": True},
        {"bucket": "x"},
        "2024-12-02",
    ],
)
def test_payloads_that_ask_for_nothing_sensible_are_refused(payload):
    with pytest.raises(InvalidRequest):
        resolve(payload, now=NOW)
