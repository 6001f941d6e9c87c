"""The analytics event envelope (DESIGN.md "Events"), defined once for every service.

Each event is one JSON line on stdout; on AWS the awslogs driver ships it to CloudWatch, where the
export Lambda reads it. Locally the same line is also appended to the event log under .data/.
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, get_args

EVENT_TYPE = "user_action"

EventName = Literal[
    "Product Viewed", "Product Search", "Add to Cart", "Checkout Started",
    "Order Completed", "User Registered", "User Login",
]
EVENT_NAMES: tuple[str, ...] = get_args(EventName)

# The properties each event must carry; the export and the Athena table read these names.
EVENT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "Product Viewed": ("productId", "productName", "price", "category"),
    "Product Search": ("searchQuery", "resultsCount"),
    "Add to Cart": ("productId", "quantity", "size", "price"),
    "Checkout Started": ("cartTotal", "itemCount"),
    "Order Completed": ("orderId", "products", "totalAmount"),
    "User Registered": (),
    "User Login": (),
}

# The Athena type of each property: the Glue table's `properties` struct (stacks/analytics.py), and
# what the export checks, since one value of another type fails every query over its day. Orders also
# send subtotal and shippingFee. Each ordered product carries its category as of the purchase (appended
# last, so the struct's earlier fields keep their positions for UNNEST); events from before have none.
ORDERED_PRODUCT_TYPES: dict[str, str] = {
    "productId": "bigint", "name": "string", "size": "string", "quantity": "int", "unitPrice": "bigint",
    "categoryId": "bigint", "category": "string",
}
_PRODUCT_STRUCT = ",".join(f"{name.lower()}:{kind}" for name, kind in ORDERED_PRODUCT_TYPES.items())
PROPERTY_TYPES: dict[str, str] = {
    "productId": "bigint", "productName": "string", "price": "bigint", "category": "string",
    "searchQuery": "string", "resultsCount": "int",
    "quantity": "int", "size": "string",
    "cartTotal": "bigint", "itemCount": "int",
    "orderId": "bigint",
    "products": f"array<struct<{_PRODUCT_STRUCT}>>",
    "totalAmount": "bigint", "subtotal": "bigint", "shippingFee": "bigint",
}


def product_viewed(product: dict[str, Any]) -> dict[str, Any]:
    """Product Viewed's properties from the catalog's product JSON: the catalog counts an API read
    with them, the storefront its product page (price: the cheapest size's)."""
    return {"productId": product["id"], "productName": product["name"], "price": product["minPrice"],
            "category": product["category"]["name"]}


ENVELOPE_FIELDS = ("type", "event", "eventId", "timestamp", "service", "userId", "sessionId",
                   "requestId", "properties")

_file_lock = threading.Lock()
_stream_lock = threading.Lock()


def build_event(event: str, properties: dict[str, Any], *, service: str,
                user_id: str | int | None = None, session_id: str | None = None,
                request_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    if event not in EVENT_NAMES:
        raise ValueError(f"unknown event {event!r}")
    missing = [key for key in EVENT_PROPERTIES[event] if key not in properties]
    if missing:
        raise ValueError(f"{event} is missing properties {missing}")
    timestamp = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "type": EVENT_TYPE,
        "event": event,
        "eventId": str(uuid.uuid4()),
        "timestamp": timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "service": service,
        "userId": None if user_id is None else str(user_id),
        "sessionId": session_id,
        "requestId": request_id,
        "properties": properties,
    }


def write_line(stream, line: str, lock: threading.Lock | threading.RLock) -> None:
    """Write one whole line to a stream backed by a file descriptor (stdout, stderr); the logs
    (services/kit/logs.py) write theirs with it too.

    One write(2) of up to PIPE_BUF bytes is atomic on the pipe or O_APPEND file behind it, so
    threads need no lock for the usual short line: under load, a lock held across the write (the
    logging handler's, sys.stdout's) was where request threads queued (py-spy, README
    "Benchmarks"). A longer line (a traceback, a large order) takes `lock`.
    """
    data = line.encode()
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a file (pytest's capsys)
        with lock:
            stream.write(line)
            stream.flush()
        return
    if len(data) <= select.PIPE_BUF:
        os.write(fd, data)
        return
    with lock:
        while data:
            data = data[os.write(fd, data):]


class EventEmitter:
    """Writes events as JSON lines to a stream (stdout) and, locally, to an event log file."""

    def __init__(self, service: str, event_log_file: str | os.PathLike | None = None, stream=None):
        self.service = service
        self.event_log_file = event_log_file or None
        self.stream = stream

    def emit(self, event: str, properties: dict[str, Any], **envelope: Any) -> dict[str, Any]:
        record = build_event(event, properties, service=self.service, **envelope)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        write_line(self.stream or sys.stdout, line, _stream_lock)
        if self.event_log_file:
            with _file_lock, open(self.event_log_file, "a", encoding="utf-8") as fh:
                fh.write(line)
        return record


def emit_event(event: str, properties: dict[str, Any], *, user_id=None,
               session_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Emit from inside a request: service, request id and session id come from the request.

    `session_id` is for the storefront, whose session lives in its cookie, not in X-Session-Id.
    `now` is when the event happened, if not now: an order's moment is the one it was stored with.
    """
    from flask import current_app, g, request

    emitter: EventEmitter = current_app.extensions["events"]
    return emitter.emit(
        event, properties,
        user_id=user_id if user_id is not None else getattr(g.get("user"), "id", None),
        session_id=session_id if session_id is not None else request.headers.get("X-Session-Id"),
        request_id=g.get("request_id"),
        now=now,
    )
