"""One error shape for every service: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .db import database_error_fields

log = logging.getLogger(__name__)


class APIError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}


class Unauthorized(APIError):
    status, code = 401, "unauthorized"


class Forbidden(APIError):
    status, code = 403, "forbidden"


class NotFound(APIError):
    status, code = 404, "not_found"


class Conflict(APIError):
    status, code = 409, "conflict"


class Unprocessable(APIError):
    status, code = 422, "validation_error"


class ServiceUnavailable(APIError):
    status, code = 503, "service_unavailable"


# Werkzeug's HTTP errors mapped to stable machine-readable codes.
_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
    503: "service_unavailable",
}


def encodable(value: Any) -> Any:
    """`value` with each lone surrogate written out as its escape ("\\ud800"). JSON may carry one
    ("\\ud800" parses to it), UTF-8 cannot: an error that quoted it could not be sent (a 500)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {encodable(key): encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(item) for item in value]
    return value


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": encodable(message),
                                  "details": encodable(details)}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def pydantic_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Field errors without echoing the input back (it may be a password, or not even encodable)."""
    return encodable([
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ])


def register_error_handlers(app: Flask, *, rollback) -> None:
    """Install JSON handlers. `rollback` undoes the request's database work on failure."""

    @app.errorhandler(APIError)
    def _api_error(exc: APIError):
        rollback()
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        rollback()
        return error_response(422, "validation_error", "Request validation failed",
                              pydantic_details(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        rollback()
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        if status == 429 and getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(exc.retry_after)
        message = exc.description or exc.name
        if status == 404:
            message = f"No route for {request.method} {request.path}"
        return error_response(status, _HTTP_CODES.get(status, "http_error"), message,
                              headers=headers)

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError | PoolTimeout):
        rollback()
        # A pool with no free connection is overload, not a bug: answer like an outage.
        if isinstance(exc, PoolTimeout | OperationalError) or exc.connection_invalidated:
            log.warning("database unavailable: %s", exc.__class__.__name__)
            return error_response(503, "database_unavailable",
                                  "The database is unavailable; try again shortly",
                                  headers={"Retry-After": "2"})
        # Its message stays out of the line (the formatter drops it): it quotes the rows.
        log.exception("database error", extra={"fields": database_error_fields(exc)})
        return error_response(500, "internal_error", "Internal server error")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        rollback()
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Internal server error")
