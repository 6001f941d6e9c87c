"""Vietnam-local days and hours as UTC windows.

Vietnam is UTC+7 all year (no daylight saving), so local midnight is 17:00 UTC of the day before.
A day is exported as 24 one-hour windows; memory is bounded by one hour of events, not a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "UTC+07:00")
HOURS_PER_DAY = 24
ONE_HOUR = timedelta(hours=1)
# Timestamps and days outside these years are nonsense here (a typo, a zeroed clock). Refusing them
# also keeps the arithmetic (to UTC+7, an hour on, a day back) clear of datetime's limits, years 1
# and 9999, where it raises OverflowError.
SANE_YEARS = range(2000, 3000)


@dataclass(frozen=True, slots=True)
class HourWindow:
    """One Vietnam-local hour: [start, end) in UTC."""

    day: date
    hour: int
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.hour:02d}"

    @property
    def start_ms(self) -> int:
        return to_epoch_ms(self.start)

    @property
    def end_ms(self) -> int:
        return to_epoch_ms(self.end)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_epoch_us(moment: datetime) -> int:
    # Integer arithmetic: float timestamps can round an event into the neighbouring millisecond.
    return (moment - _EPOCH) // _MICROSECOND


def to_epoch_ms(moment: datetime) -> int:
    return to_epoch_us(moment) // 1000


def local_midnight(day: date) -> datetime:
    """The UTC instant a Vietnam-local day starts."""
    return datetime.combine(day, time(0), VIETNAM).astimezone(UTC)


def day_windows(day: date) -> list[HourWindow]:
    midnight = local_midnight(day)
    return [
        HourWindow(day, hour, midnight + hour * ONE_HOUR, midnight + (hour + 1) * ONE_HOUR)
        for hour in range(HOURS_PER_DAY)
    ]


def window_at(moment: datetime) -> HourWindow:
    """The local hour window containing a UTC instant."""
    local = moment.astimezone(VIETNAM)
    start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return HourWindow(local.date(), local.hour, start, start + ONE_HOUR)


def local_date(moment: datetime) -> date:
    return moment.astimezone(VIETNAM).date()


def last_complete_day(moment: datetime) -> date:
    """The most recent Vietnam-local day that had fully ended at `moment`."""
    return local_date(moment) - timedelta(days=1)


def parse_timestamp(value: object) -> datetime | None:
    """An ISO-8601 timestamp with a UTC offset in SANE_YEARS, as aware UTC; None when it is not one."""
    if not isinstance(value, str) or not 10 < len(value) < 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:  # a naive time could be any zone: refuse to guess its hour
        return None
    if moment.year not in SANE_YEARS:
        return None
    return moment.astimezone(UTC)
