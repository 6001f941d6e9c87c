"""JSON log lines carrying the request id, and one access-log line per request."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

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


access_log = logging.getLogger("sweetdream.access")


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
        started = g.get("started")
        access_log.info("request", extra={"fields": {
            "method": request.method,
            "path": request.path,  # never the query string: it may carry a token
            "status": response.status_code,
            "durationMs": round((time.perf_counter() - started) * 1000, 2) if started else None,
        }})
        return response
