"""JSON log lines carrying the request id, and one access-log line per request."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

from .db import database_error_fields
from .events import write_line

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["requestId"] = g.get("request_id")
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)

    def formatException(self, exc_info) -> str:  # noqa: N802 (logging's name)
        """The traceback with each database error's message replaced by `database_error_fields`:
        those messages quote the rows (customers' addresses, password hashes)."""
        text = super().formatException(exc_info)
        for exc in _chain(exc_info[1]):
            fields = database_error_fields(exc)
            if fields is not None:
                said = "".join(traceback.format_exception_only(exc)).rstrip("\n")
                named = " ".join(f"{name}={value}" for name, value in fields.items())
                text = text.replace(said, f"{type(exc).__module__}.{type(exc).__qualname__}: {named}")
        return text


def _chain(exc: BaseException | None):
    """`exc` and the exceptions it was raised from or while handling, as a traceback prints them."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


class LineHandler(logging.StreamHandler):
    """A stream handler whose records are written by `write_line`, without the handler lock."""

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_line(self.stream, self.format(record) + "\n", self.lock)
        except Exception:  # noqa: BLE001 (logging must never take the request down)
            self.handleError(record)


def configure_logging(service: str, level: str) -> None:
    logging._srcfile = None  # no caller lookup per record: no formatter here prints it (logging HOWTO)
    handler = LineHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Its INFO line on every 429 names the limit's key: a shopper's e-mail or address.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    # Its retry warnings print the called URL with its query (a search, an idempotency key); the
    # callers log a failed call themselves, naming the service and the path only.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


access_log = logging.getLogger("sweetdream.access")
# The load balancer's and ECS's probes, several a second: their successes are no news.
HEALTH_PATHS = frozenset({"/health", "/health/live"})


def loggable_path(path: str) -> str:
    """`path` with each segment that holds an e-mail address masked; ids stay for on-call."""
    return "/".join("<email>" if "@" in segment else segment for segment in path.split("/"))


def install_request_id(app: Flask) -> None:
    @app.before_request
    def _assign_request_id():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _log_and_echo(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if response.status_code == 200 and request.path in HEALTH_PATHS:
            return response
        started = g.get("started")
        fields = {
            "method": request.method,
            "path": loggable_path(request.path),  # never the query string: it may carry a token
            "status": response.status_code,
            "durationMs": round((time.perf_counter() - started) * 1000, 2) if started else None,
        }
        user = g.get("user")  # set once the request's token was verified (auth.current_user)
        if user is not None:
            fields["userId"] = user.id
        access_log.info("request", extra={"fields": fields})
        return response
