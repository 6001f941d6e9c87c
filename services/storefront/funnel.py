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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

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


class FunnelUnavailable(Exception):
    """The event source could not be read (missing permission, bucket, disk error)."""


@dataclass(frozen=True)
class Funnel:
    steps: list[tuple[str, int]]  # (Vietnamese label, sessions)
    source: str  # shown under the chart: where the numbers came from
    first_day: date
    last_day: date


def count_sessions(events: Iterable[dict], first_day: date, last_day: date) -> list[tuple[str, int]]:
    """Distinct sessions reaching each step within [first_day, last_day] (Vietnam-local days)."""
    sessions: dict[str, set[str]] = {name: set() for name in STEP_EVENTS}
    for event in events:
        name = event.get("event")
        if event.get("type") != "user_action" or name not in STEP_EVENTS:
            continue
        moment = parse_time(event.get("timestamp"))
        if moment is None or not first_day <= moment.astimezone(VIETNAM).date() <= last_day:
            continue
        # Without a session id, fall back to the user, then to the event itself: nothing is lost.
        user = event.get("userId")
        visitor = (event.get("sessionId") or (f"user:{user}" if user else None)
                   or f"event:{event.get('eventId')}")
        sessions[name].add(visitor)
    return [(label, len(sessions[name])) for name, label in FUNNEL_STEPS]


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


class S3ExportSource:
    """The daily export: s3://bucket/prefix/year=YYYY/month=MM/day=DD/part-HH.jsonl.gz."""

    def __init__(self, bucket: str, prefix: str, client=None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3
            self._client = boto3.client("s3")
        return self._client

    def describe(self) -> str:
        return (f"Dữ liệu xuất hằng ngày (s3://{self.bucket}/{self.prefix}/): chỉ gồm các ngày đã "
                "xuất xong, nên hôm nay chưa có trong số liệu.")

    def _day_prefix(self, day: date) -> str:
        return f"{self.prefix}/year={day:%Y}/month={day:%m}/day={day:%d}/"

    def events(self, first_day: date, last_day: date) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        day = first_day
        while day <= last_day:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._day_prefix(day)):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith(".jsonl.gz"):
                        continue  # the day's manifest and anything else
                    body = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                    with gzip.open(io.BytesIO(body), "rt", encoding="utf-8") as fh:
                        yield from _json_lines(fh)
            day += timedelta(days=1)


def funnel_source(event_log_file: str, analytics_bucket: str, analytics_prefix: str):
    if event_log_file:
        return EventLogSource(event_log_file)
    if analytics_bucket:
        return S3ExportSource(analytics_bucket, analytics_prefix)
    return None


def build_funnel(source, days: int, today: date | None = None) -> Funnel | None:
    if source is None:
        return None
    last_day = today or datetime.now(UTC).astimezone(VIETNAM).date()
    first_day = last_day - timedelta(days=days - 1)
    try:
        steps = count_sessions(source.events(first_day, last_day), first_day, last_day)
    except (OSError, BotoCoreError, ClientError) as exc:
        log.warning("funnel source unreadable: %s", exc.__class__.__name__)
        raise FunnelUnavailable(source.describe()) from exc
    return Funnel(steps, source.describe(), first_day, last_day)
