"""Which day an invocation asks for.

EventBridge scheduled event (cron 0 17 * * ? *)   the Vietnam-local day that just ended
{"date": "YYYY-MM-DD"}                             re-export that day (today: so far)
{"test_mode": true}                                today so far
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .windows import SANE_YEARS, last_complete_day, local_date, local_midnight, parse_timestamp

SCHEDULED = "scheduled"
DATE = "date"
TEST_MODE = "test_mode"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# How far a scheduled event's time may run ahead of this function's clock.
CLOCK_SKEW = timedelta(minutes=5)


class InvalidRequest(ValueError):
    """The payload does not ask for an export we can do; nothing was read or written."""


@dataclass(frozen=True)
class ExportRequest:
    day: date
    trigger: str
    # Export the hours that started before this instant (today so far); None: the whole day.
    until: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.until is None


def resolve(event: Any, *, now: datetime, log_retention_days: int | None = None) -> ExportRequest:
    if not isinstance(event, dict):
        raise InvalidRequest("the payload must be a JSON object")
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        # The rule's scheduled time, not the clock: a delayed or retried invocation exports the
        # same day as the one it stands in for.
        moment = parse_timestamp(event.get("time")) or now
        if moment > now + CLOCK_SKEW:
            # Only a hand-made event is scheduled ahead: its day would not end before the timeout.
            raise InvalidRequest(f"the scheduled time {event.get('time')} has not come yet")
        day = last_complete_day(moment)
        _refuse_expired(day, now, log_retention_days)
        return ExportRequest(day, SCHEDULED)

    unknown = sorted(set(event) - {"date", "test_mode"})
    if unknown:
        raise InvalidRequest(
            f'unknown payload keys {unknown}; send {{"date": "YYYY-MM-DD"}} or {{"test_mode": true}}'
        )
    today = local_date(now)
    if "date" in event:
        if event.get("test_mode"):
            raise InvalidRequest("send either date or test_mode, not both")
        day = parse_day(event["date"])
        if day > today:
            raise InvalidRequest(f"{day} has not started yet in Vietnam (today is {today})")
        _refuse_expired(day, now, log_retention_days)
        return ExportRequest(day, DATE, now if day == today else None)
    if event.get("test_mode") is True:
        return ExportRequest(today, TEST_MODE, now)
    raise InvalidRequest('expected the scheduled event, {"date": "YYYY-MM-DD"} or {"test_mode": true}')


def _refuse_expired(day: date, now: datetime, log_retention_days: int | None) -> None:
    if log_retention_days is not None and local_midnight(day) < now - timedelta(days=log_retention_days):
        raise InvalidRequest(
            f"the service logs of {day} have expired (log retention is {log_retention_days} days); "
            "its existing export is kept as it is"
        )


def parse_day(value: Any) -> date:
    """A YYYY-MM-DD day the export can place in UTC; InvalidRequest otherwise."""
    if not isinstance(value, str) or not _DATE.match(value):
        raise InvalidRequest(f"date must be a string YYYY-MM-DD, got {value!r}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{value} is not a calendar date") from None
    if day.year not in SANE_YEARS:  # year 1 would overflow on its way to UTC
        raise InvalidRequest(f"{value} is outside the years {SANE_YEARS[0]}-{SANE_YEARS[-1]}")
    return day
