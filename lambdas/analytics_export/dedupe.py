"""One hour of raw lines in, validated and deduplicated rows out, sorted by (timestamp, eventId).

An event belongs to the local hour of its own `timestamp` (the envelope's, which analysts see),
not to the hour CloudWatch ingested it in. Duplicates (the same event read from two log groups,
or a retried write) collapse on `eventId`; only lines without one fall back to a content hash.
Malformed lines are counted by reason and skipped; they never stop the export.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from services.kit.events import (
    ENVELOPE_FIELDS,
    EVENT_NAMES,
    EVENT_TYPE,
    ORDERED_PRODUCT_TYPES,
    PROPERTY_TYPES,
)

from .sources import QUERY_MARGIN, RawLine
from .windows import HourWindow, parse_timestamp, to_epoch_ms, to_epoch_us, window_at

INVALID_JSON = "invalidJson"
NOT_AN_EVENT = "notAnEvent"
BAD_TIMESTAMP = "badTimestamp"
UNKNOWN_EVENT = "unknownEvent"
BAD_FIELD = "badField"
OUTSIDE_WINDOW = "outsideWindow"
SKIP_REASONS = (INVALID_JSON, NOT_AN_EVENT, BAD_TIMESTAMP, UNKNOWN_EVENT, BAD_FIELD, OUTSIDE_WINDOW)

_KNOWN_EVENTS = frozenset(EVENT_NAMES)
_STRING_OR_NULL = ("service", "userId", "sessionId", "requestId")
MAX_EVENT_ID_LENGTH = 128
# The `timestamp` column is documented as UTC, in the kit's form (exactly milliseconds, then Z); other
# forms Python reads (an offset, a space for the T, more or fewer fractional digits) would break that
# promise and sort out of order as text: `…00.1Z` after `…00.123Z`, `…00Z` after both.
_UTC_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
# By lower-case name: the Hive JSON SerDe gives a key of any case to the field of that name.
_PROPERTY_TYPES = {name.lower(): kind for name, kind in PROPERTY_TYPES.items()}
_ORDERED_PRODUCT_TYPES = {name.lower(): kind for name, kind in ORDERED_PRODUCT_TYPES.items()}
_INTEGER_LIMITS = {"int": 2**31, "bigint": 2**63}


def to_row(event: dict[str, Any]) -> str:
    """The exported line: exactly the envelope fields, in envelope order (the Athena columns)."""
    if tuple(event) != ENVELOPE_FIELDS:  # the kit writes exactly these; anything else is rebuilt
        event = {name: event.get(name) for name in ENVELOPE_FIELDS}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def dedupe_key(event: dict[str, Any]) -> str:
    event_id = event.get("eventId")
    if event_id is not None:
        return event_id
    canonical = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def fits(value: Any, kind: str) -> bool:
    """Whether the Hive JSON SerDe can read a JSON value as Athena type `kind` (null always fits).

    One value it cannot read fails every query over its day, so such a line is skipped instead."""
    if value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind in _INTEGER_LIMITS:  # an integral JSON number that fits the column (a bool is no number)
        return type(value) is int and -_INTEGER_LIMITS[kind] <= value < _INTEGER_LIMITS[kind]
    if kind == PROPERTY_TYPES["products"]:
        return isinstance(value, list) and all(
            isinstance(item, dict) and _fields_fit(item, _ORDERED_PRODUCT_TYPES) for item in value
        )
    raise ValueError(f"no check for the Athena type {kind}")


def _fields_fit(fields: dict[str, Any], types: dict[str, str]) -> bool:
    return all(fits(value, types[key.lower()]) for key, value in fields.items() if key.lower() in types)


def utc_timestamp(value: Any) -> datetime | None:
    """The envelope's timestamp as an aware UTC datetime; None unless it is UTC in the kit's form."""
    if not isinstance(value, str) or not _UTC_TIMESTAMP.fullmatch(value):
        return None
    return parse_timestamp(value)


def classify(decoded: Any) -> str | None:
    """Why a decoded line is not an exportable event, or None when it is one."""
    if not isinstance(decoded, dict) or decoded.get("type") != EVENT_TYPE:
        return NOT_AN_EVENT
    if decoded.get("event") not in _KNOWN_EVENTS:
        return UNKNOWN_EVENT
    event_id = decoded.get("eventId")
    if event_id is not None and not (isinstance(event_id, str) and 0 < len(event_id) <= MAX_EVENT_ID_LENGTH):
        return BAD_FIELD
    properties = decoded.get("properties")
    if properties is not None and not isinstance(properties, dict):
        return BAD_FIELD
    if properties and not _fields_fit(properties, _PROPERTY_TYPES):
        return BAD_FIELD
    for name in _STRING_OR_NULL:
        value = decoded.get(name)
        if value is not None and not isinstance(value, str | int):
            return BAD_FIELD
    return None


class HourBatch:
    """The rows of one local hour, held until the hour is written (memory: one hour)."""

    def __init__(self, window: HourWindow, *, margin: timedelta = QUERY_MARGIN) -> None:
        self.window = window
        self.margin_ms = to_epoch_ms(window.start + margin) - window.start_ms
        self.skipped: Counter[str] = Counter()
        self.duplicates = 0
        # Read thanks to the margin but belonging to a neighbouring hour, which exports them.
        self.neighbours = 0
        self._rows: dict[str, tuple[int, str]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def add_all(self, lines) -> HourBatch:
        for line in lines:
            self.add(line)
        return self

    def add(self, line: RawLine) -> None:
        decoded = line.decoded
        if decoded is None:
            try:
                decoded = json.loads(line.message)
            except ValueError:
                self.skipped[INVALID_JSON] += 1
                return
        reason = classify(decoded)
        moment = None
        if reason is None:
            moment = utc_timestamp(decoded.get("timestamp"))
            if moment is None:
                reason = BAD_TIMESTAMP
        if reason is not None:
            # A bad line read through the margin is counted by the window that owns its log time.
            if line.log_time_ms is None or self._owns_log_time(line.log_time_ms):
                self.skipped[reason] += 1
            return
        if not self.window.contains(moment):
            self._not_this_hour(moment, line.log_time_ms)
            return
        key = dedupe_key(decoded)
        row = (to_epoch_us(moment), to_row(decoded))
        existing = self._rows.get(key)
        if existing is None:
            self._rows[key] = row
            return
        self.duplicates += 1
        if row < existing:  # copies may differ; keep the same one whatever order they came in
            self._rows[key] = row

    def rows(self) -> list[str]:
        """The hour's rows sorted by (timestamp, eventId)."""
        return [row for _, (_, row) in sorted(self._rows.items(), key=lambda item: (item[1][0], item[0]))]

    def _owns_log_time(self, log_time_ms: int) -> bool:
        return self.window.start_ms <= log_time_ms < self.window.end_ms

    def _not_this_hour(self, moment, log_time_ms: int | None) -> None:
        if log_time_ms is None:
            self.skipped[OUTSIDE_WINDOW] += 1
            return
        home = window_at(moment)
        if home.start_ms - self.margin_ms <= log_time_ms < home.end_ms + self.margin_ms:
            self.neighbours += 1  # its own hour's window reads it too, and keeps it
        elif self._owns_log_time(log_time_ms):
            # Logged far from its own timestamp: no window would keep it. Count it, once.
            self.skipped[OUTSIDE_WINDOW] += 1
        else:
            self.neighbours += 1
