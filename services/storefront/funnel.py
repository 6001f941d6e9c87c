"""Where the conversion funnel's numbers come from: the shopper events themselves.

No service stores "viewed" or "started checkout" anywhere but the event stream, so the funnel reads
events, counting distinct browser sessions per step (the storefront's session id travels to every
API as X-Session-Id, so all four events of one visit share it):
- locally, the event log every service appends to (EVENT_LOG_FILE, `.data/events.jsonl`);
- on AWS, the analytics bucket the daily export writes (`ANALYTICS_BUCKET`), which holds complete
  Vietnam-local days: the funnel there lags by up to a day, and says so on the page.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from .formatting import VIETNAM, parse_time

log = logging.getLogger(__name__)

FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("Product Viewed", "Xem sản phẩm"),
    ("Add to Cart", "Thêm vào giỏ"),
    ("Checkout Started", "Bắt đầu thanh toán"),
    ("Order Completed", "Đặt hàng"),
)
STEP_EVENTS = frozenset(name for name, _ in FUNNEL_STEPS)
MANIFEST_NAME = "_manifest.json"  # the export's per-day manifest (lambdas/analytics_export/sinks.py)


class FunnelUnavailable(Exception):
    """The event source could not be read (missing permission, bucket, disk error)."""


@dataclass(frozen=True)
class Funnel:
    steps: list[tuple[str, int]]  # (Vietnamese label, sessions)
    source: str  # shown under the chart: where the numbers came from
    first_day: date
    last_day: date


Visitors = dict[str, set[str]]  # funnel event name → the sessions that reached that step


def step_visitors(events: Iterable[dict], first_day: date, last_day: date) -> Visitors:
    """The sessions reaching each step within [first_day, last_day] (Vietnam-local days)."""
    sessions: Visitors = {name: set() for name in STEP_EVENTS}
    for event in events:
        name = event.get("event")
        if event.get("type") != "user_action" or name not in STEP_EVENTS:
            continue
        moment = parse_time(event.get("timestamp"))
        if moment is None or not first_day <= moment.astimezone(VIETNAM).date() <= last_day:
            continue
        # Browser sessions only, as the Athena conversion-funnel query counts: an order placed
        # through the API has none, and counting it would push a later step past an earlier one.
        session = event.get("sessionId")
        if session:
            sessions[name].add(session)
    return sessions


def step_counts(visitors: Visitors) -> list[tuple[str, int]]:
    return [(label, len(visitors[name])) for name, label in FUNNEL_STEPS]


def count_sessions(events: Iterable[dict], first_day: date, last_day: date) -> list[tuple[str, int]]:
    """Distinct sessions reaching each step within [first_day, last_day] (Vietnam-local days)."""
    return step_counts(step_visitors(events, first_day, last_day))


def _json_lines(lines: Iterable[str | bytes]) -> Iterator[dict]:
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn or foreign line never breaks the page
        if isinstance(record, dict):
            yield record


class EventLogSource:
    """The local event log (JSON lines), read from start to end."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def describe(self) -> str:
        return f"Nhật ký sự kiện cục bộ ({self.path.name}), cập nhật theo thời gian thực."

    def events(self, first_day: date, last_day: date) -> Iterator[dict]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            yield from _json_lines(fh)

    def visitors(self, first_day: date, last_day: date) -> Visitors:
        return step_visitors(self.events(first_day, last_day), first_day, last_day)


@dataclass(frozen=True)
class _ReadDay:
    visitors: Visitors
    final: bool  # the export marked the day complete: its partition no longer changes
    read_at: float


S3_CLIENT_CONFIG = BotoConfig(connect_timeout=2, read_timeout=5,
                              retries={"total_max_attempts": 2, "mode": "standard"})


class S3ExportSource:
    """The daily export: s3://bucket/prefix/year=YYYY/month=MM/day=DD/part-HH.jsonl.gz.

    Each process keeps what it read, per day, so the admin page does not read S3 on every view:
    a day whose manifest says `complete` is read once (the export never changes a finished day);
    any other day (today's test-mode export, a day not exported yet) again after `cache_seconds`.
    Only the sessions per step are kept, for at most MAX_CACHED_DAYS days.
    """

    MAX_CACHED_DAYS = 120  # the longest chart range is 90 days

    def __init__(self, bucket: str, prefix: str, client=None, *, cache_seconds: float = 300,
                 clock: Callable[[], float] = time.monotonic):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._days: dict[date, _ReadDay] = {}
        self._lock = threading.Lock()

    @property
    def client(self):
        if self._client is None:
            import boto3
            # Bounded like every other call out of a request thread: boto's defaults (60 s per
            # read, retried) would hold an admin's page past the load balancer's timeout.
            self._client = boto3.client("s3", config=S3_CLIENT_CONFIG)
        return self._client

    def describe(self) -> str:
        minutes = max(1, round(self.cache_seconds / 60))
        return (f"Dữ liệu xuất hằng ngày (s3://{self.bucket}/{self.prefix}/): chỉ gồm các ngày đã "
                "xuất xong, nên hôm nay chưa có trong số liệu. Ngày đã xuất xong được đọc một lần; "
                f"ngày chưa xuất xong được đọc lại sau tối đa {minutes} phút.")

    def _day_prefix(self, day: date) -> str:
        return f"{self.prefix}/year={day:%Y}/month={day:%m}/day={day:%d}/"

    def _read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def _read_day(self, day: date) -> _ReadDay:
        events: list[dict] = []
        final = False
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._day_prefix(day)):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/" + MANIFEST_NAME):
                    final = _says_complete(self._read(key))
                elif key.endswith(".jsonl.gz"):
                    with gzip.open(io.BytesIO(self._read(key)), "rt", encoding="utf-8") as fh:
                        events.extend(_json_lines(fh))
        return _ReadDay(step_visitors(events, day, day), final, self._clock())

    def _day(self, day: date) -> _ReadDay:
        with self._lock:
            cached = self._days.get(day)
        if cached and (cached.final or self._clock() - cached.read_at < self.cache_seconds):
            return cached
        fresh = self._read_day(day)  # an error propagates and leaves nothing behind
        with self._lock:
            self._days[day] = fresh
            for old in sorted(self._days)[:-self.MAX_CACHED_DAYS]:
                del self._days[old]
        return fresh

    def visitors(self, first_day: date, last_day: date) -> Visitors:
        merged: Visitors = {name: set() for name in STEP_EVENTS}
        day = first_day
        while day <= last_day:
            for name, sessions in self._day(day).visitors.items():
                merged[name] |= sessions
            day += timedelta(days=1)
        return merged


def _says_complete(manifest: bytes) -> bool:
    try:
        return json.loads(manifest).get("complete") is True
    except (ValueError, AttributeError):
        return False  # unreadable: treat the day as still changing


def funnel_source(event_log_file: str, analytics_bucket: str, analytics_prefix: str,
                  cache_seconds: float = 300):
    if event_log_file:
        return EventLogSource(event_log_file)
    if analytics_bucket:
        return S3ExportSource(analytics_bucket, analytics_prefix, cache_seconds=cache_seconds)
    return None


def build_funnel(source, days: int, today: date | None = None) -> Funnel | None:
    if source is None:
        return None
    last_day = today or datetime.now(UTC).astimezone(VIETNAM).date()
    first_day = last_day - timedelta(days=days - 1)
    try:
        steps = step_counts(source.visitors(first_day, last_day))
    except (OSError, BotoCoreError, ClientError) as exc:
        log.warning("funnel source unreadable: %s", exc.__class__.__name__)
        raise FunnelUnavailable(source.describe()) from exc
    return Funnel(steps, source.describe(), first_day, last_day)
