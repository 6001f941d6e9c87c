"""Where events come from: CloudWatch Logs on AWS, the local event log on a laptop.

A source yields the raw lines of one hour window; the core (dedupe) decides what they are worth.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from services.kit.events import EVENT_TYPE

from .windows import HourWindow, parse_timestamp, to_epoch_ms, to_epoch_us, window_at

# The subscription-style filter the services' events match; CloudWatch evaluates it server side.
USER_ACTION_FILTER = f'{{ $.type = "{EVENT_TYPE}" }}'
# Each window is read this much wider on both sides: the log event's ingestion time can fall just
# across an hour boundary from the event's own timestamp, which decides its hour (see dedupe).
QUERY_MARGIN = timedelta(minutes=2)
# CloudWatch Logs makes an event searchable within seconds of its ingestion; a window is read only
# once this much time has passed since its end (plus the margin).
INGESTION_DELAY = timedelta(minutes=1)
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "LimitExceededException",
        "ServiceUnavailableException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)


@dataclass(frozen=True, slots=True)
class RawLine:
    message: str
    # CloudWatch's own timestamp of the log event (ms); None for the local event log.
    log_time_ms: int | None = None
    origin: str = ""
    # The decoded JSON when the source already had to decode it (to apply the filter).
    decoded: Any = None


class EventSource(Protocol):
    # How far past each window's edges `read` looks (lines carry their log time when it is > 0).
    margin: timedelta
    # How long after a window ends its lines can still be arriving.
    ingestion_delay: timedelta

    def read(self, window: HourWindow) -> Iterable[RawLine]: ...

    def describe(self) -> str: ...


def decode_user_action(message: str) -> dict[str, Any] | None:
    """The decoded event if `message` matches `{ $.type = "user_action" }`, else None."""
    try:
        decoded = json.loads(message)
    except ValueError:
        return None
    if isinstance(decoded, dict) and decoded.get("type") == EVENT_TYPE:
        return decoded
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter, on top of botocore's adaptive retries."""

    attempts: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 20.0

    def delay(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_seconds, self.base_seconds * 2**retry))


@dataclass
class SourceStats:
    requests: int = 0
    pages: int = 0
    retries: int = 0
    filtered_out: int = 0  # lines the server-side filter would have dropped (moto ignores it)


class CloudWatchLogsSource:
    """FilterLogEvents over every service log group, one local hour at a time.

    Follows nextToken until there is none: a page can be empty and still carry a token, and
    there is no row cap (Logs Insights' default 10,000 is what broke the original export).
    """

    def __init__(
        self,
        client,
        log_group_names: Sequence[str],
        *,
        filter_pattern: str = USER_ACTION_FILTER,
        margin: timedelta = QUERY_MARGIN,
        ingestion_delay: timedelta = INGESTION_DELAY,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not log_group_names:
            raise ValueError("at least one log group is needed")
        self.client = client
        # Sorted so that every run reads (and dedupes) in the same order.
        self.log_group_names = tuple(sorted(set(log_group_names)))
        self.filter_pattern = filter_pattern
        self.margin = margin
        self.ingestion_delay = ingestion_delay
        self.retry = retry
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats = SourceStats()

    def describe(self) -> str:
        return f"cloudwatch-logs:{','.join(self.log_group_names)}"

    def read(self, window: HourWindow) -> Iterator[RawLine]:
        margin_ms = to_epoch_ms(window.start + self.margin) - window.start_ms
        start_ms = window.start_ms - margin_ms
        end_ms = window.end_ms - 1 + margin_ms  # endTime is inclusive
        for group in self.log_group_names:
            yield from self._read_group(group, start_ms, end_ms)

    def _read_group(self, group: str, start_ms: int, end_ms: int) -> Iterator[RawLine]:
        request = {
            "logGroupName": group,
            "startTime": start_ms,
            "endTime": end_ms,
            "filterPattern": self.filter_pattern,
        }
        token = None
        while True:
            page = self._filter_log_events({**request, "nextToken": token} if token else request)
            self.stats.pages += 1
            for event in page.get("events", ()):
                message = event.get("message", "")
                decoded = decode_user_action(message)
                if decoded is None:
                    self.stats.filtered_out += 1
                    continue
                yield RawLine(
                    message, event.get("timestamp"), f"{group}:{event.get('logStreamName', '')}", decoded
                )
            next_token = page.get("nextToken")
            if not next_token:
                return
            if next_token == token:
                raise RuntimeError(f"FilterLogEvents on {group} returned the same nextToken twice")
            token = next_token

    def _filter_log_events(self, request: dict[str, Any]) -> dict[str, Any]:
        for retry in range(self.retry.attempts):
            self.stats.requests += 1
            try:
                return self.client.filter_log_events(**request)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_ERROR_CODES or retry == self.retry.attempts - 1:
                    raise
                self.stats.retries += 1
                self.sleep(self.retry.delay(retry, self.rng))
        raise AssertionError("unreachable")  # pragma: no cover


# A last resort to date a line that is not valid JSON (a torn write), so it is counted in its day.
_TIMESTAMP_FIELD = re.compile(r'"timestamp"\s*:\s*"([^"]{10,40})"')


class LocalEventLogSource:
    """The local event log (`.data/events.jsonl`), bucketed by each event's own local hour.

    One pass over the file spills every line into a per-hour file in a scratch directory, so
    exporting any number of days reads the log once and holds at most one hour in memory.
    Lines with no readable timestamp cannot be placed in a day; they are counted as `undated`.
    """

    # Lines are bucketed by their own timestamp and the file is complete when read.
    margin = timedelta(0)
    ingestion_delay = timedelta(0)

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        flush_every: int = 20_000,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.flush_every = flush_every
        self.on_progress = on_progress
        self.undated = 0
        self.lines = 0
        self._hours: dict[int, tuple[HourWindow, Path]] = {}
        self._windows: dict[int, HourWindow] = {}  # by UTC hour number: Vietnam hours align with UTC
        self._scratch: Path | None = None

    def describe(self) -> str:
        return f"local:{self.path}"

    def __enter__(self) -> LocalEventLogSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    @property
    def days(self) -> list[date]:
        """The local days the log has events for, oldest first."""
        self._scan()
        return sorted({window.day for window, _ in self._hours.values()})

    def read(self, window: HourWindow) -> Iterator[RawLine]:
        self._scan()
        if window.start_ms not in self._hours:
            return
        _, spill = self._hours[window.start_ms]
        origin = str(self.path)
        with spill.open(encoding="utf-8") as lines:
            for line in lines:
                yield RawLine(line.rstrip("\n"), None, origin)

    def _scan(self) -> None:
        if self._scratch is not None:
            return
        self._scratch = Path(tempfile.mkdtemp(prefix="sweetdream-analytics-"))
        pending: dict[HourWindow, list[str]] = defaultdict(list)
        buffered = 0
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            for raw in log:
                if self.on_progress:
                    self.on_progress(len(raw))
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line.strip():
                    continue
                self.lines += 1
                window = self._window_of(line)
                if window is None:
                    self.undated += 1
                    continue
                pending[window].append(line)
                buffered += 1
                if buffered >= self.flush_every:
                    self._flush(pending)
                    buffered = 0
        self._flush(pending)

    def _window_of(self, line: str) -> HourWindow | None:
        try:
            decoded = json.loads(line)
            value = decoded.get("timestamp") if isinstance(decoded, dict) else None
        except ValueError:
            match = _TIMESTAMP_FIELD.search(line)
            value = match.group(1) if match else None
        moment = parse_timestamp(value)
        if moment is None:
            return None
        hour = to_epoch_us(moment) // 3_600_000_000
        window = self._windows.get(hour)
        if window is None:
            window = self._windows[hour] = window_at(moment)
        return window

    def _flush(self, pending: dict[HourWindow, list[str]]) -> None:
        assert self._scratch is not None
        for window, lines in pending.items():
            _, spill = self._hours.setdefault(
                window.start_ms, (window, self._scratch / f"{window.start_ms}.jsonl")
            )
            with spill.open("a", encoding="utf-8") as out:
                out.write("\n".join(lines))
                out.write("\n")
        pending.clear()
