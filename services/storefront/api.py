"""The storefront's only way to data: the public JSON APIs, through the gateway or the ALB.

Every call forwards the signed-in shopper's token and the storefront session id (X-Session-Id), so
the services authorise the real caller and their events carry the browser session.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

from flask import current_app, session

from services.kit.caching import ReadCache
from services.kit.http import ServiceClient, UpstreamUnavailable
from services.manifest import route

from .config import StorefrontConfig
from .validation import field_message

log = logging.getLogger(__name__)

# Statuses that mean "the API is not there right now" rather than "your request was wrong".
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


class ApiError(Exception):
    """An API answered with an error; carries its error body (code, message, details)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, *,
                 upstream: str | None = None, method: str | None = None, path: str | None = None,
                 upstream_status: int | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        # The call that failed, for log lines: the manifest's service, the API path without its
        # query string, and the status it answered (None when it never answered).
        self.upstream = upstream
        self.method = method
        self.path = path
        self.upstream_status = upstream_status

    def upstream_fields(self) -> dict[str, Any]:
        """The failed call as structured log fields; no query string, body or message."""
        return {"upstream": self.upstream, "upstreamMethod": self.method, "upstreamPath": self.path,
                "upstreamStatus": self.upstream_status}

    def field_errors(self, within: str = "") -> dict[str, str]:
        """Validation details as {fieldName: Vietnamese message}, for showing next to form fields.

        `within` reads the fields of one nested object instead: "sizes.0" gives the first size's
        "sizes.0.price" as "price"."""
        prefix = f"{within}." if within else ""
        errors: dict[str, str] = {}
        if isinstance(self.details, list):
            for item in self.details:
                # Details without a field (the lines of items_unavailable) belong to no form field.
                path = item.get("field") if isinstance(item, dict) else None
                if isinstance(path, str) and path.startswith(prefix):
                    # "phone.str" or "phone.function-after[...]": the form field is the first part.
                    field = path[len(prefix):].split(".")[0]
                    if field:
                        errors.setdefault(field, field_message(field, item))
        return errors


class ApiUnavailable(ApiError):
    def __init__(self, message: str = "The shop's API is unavailable", *, upstream: str | None = None,
                 method: str | None = None, path: str | None = None,
                 upstream_status: int | None = None):
        # upstream_status None: no answer at all (connection refused, timed out).
        super().__init__(503, "upstream_unavailable", message, upstream=upstream, method=method,
                         path=path, upstream_status=upstream_status)


def segment(value: Any) -> str:
    """One URL path segment, escaped (e-mail addresses and ids alike)."""
    return quote(str(value), safe="")


class Api:
    """Thin JSON client over ServiceClient (timeouts, bounded retries on idempotent calls)."""

    def __init__(self, config: StorefrontConfig):
        timeouts = {"connect_timeout": config.api_connect_timeout,
                    "read_timeout": config.api_read_timeout, "retries": config.api_retries}
        self.client = ServiceClient(config.api_base_url, name="shop API", **timeouts)
        # Paths the manifest routes to the catalog go to it directly when its address is known.
        self.catalog = (ServiceClient(config.catalog_url, name="catalog", **timeouts)
                        if config.catalog_url else self.client)
        self.public_reads = ReadCache(config.public_read_cache_seconds,
                                      stale_for=config.public_read_stale_seconds, stale_on=(ApiUnavailable,))

    def public_get(self, path: str, params: dict | None = None) -> Any:
        """A read that is the same for every visitor, asked anonymously and reused by this process
        for `public_read_cache_seconds`: the category menu, the home page's newest cakes (on nearly
        every page view) and a product page's product. While the API is unavailable the last copy
        answers for `public_read_stale_seconds` more. Searches, which the catalog counts as
        analytics events, never come from here."""
        key = (path, tuple(sorted((params or {}).items())))
        return self.public_reads.get(key, lambda: self.call("GET", path, params=params, public=True))

    def call(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
             headers: dict[str, str] | None = None, idempotent: bool | None = None,
             token: str | None = None, public: bool = False) -> Any:
        """`public`: as an anonymous visitor, without the shopper's token and session id."""
        headers = dict(headers or {})
        if session.get("sid") and not public:
            headers["X-Session-Id"] = session["sid"]
        headers["Accept"] = "application/json"
        if params:
            params = {k: v for k, v in params.items() if v not in (None, "")}
        upstream = route(path).name
        client = self.catalog if upstream == "catalog" else self.client
        call = {"upstream": upstream, "method": method.upper(), "path": path.split("?", 1)[0]}
        started = time.perf_counter()
        try:
            response = client.request(method, path,
                                      token=None if public else token or session.get("token"),
                                      json=json, params=params or None, headers=headers,
                                      idempotent=idempotent)
        except UpstreamUnavailable as exc:
            _log_unavailable(call, started, client=client.name, errorClass=exc.error_class)
            raise ApiUnavailable(**call) from exc
        status = response.status_code
        if status in UNAVAILABLE_STATUSES:
            _log_unavailable(call, started, client=client.name, upstreamStatus=status)
            raise ApiUnavailable(**call, upstream_status=status)
        if not response.content:
            if response.ok:
                return None
            raise ApiError(status, "http_error", response.reason or "Request failed", **call,
                           upstream_status=status)
        try:
            body = response.json()
        except ValueError as exc:
            # Not our JSON at all (e.g. a load balancer's HTML error page): treat as unavailable.
            _log_unavailable(call, started, client=client.name, upstreamStatus=status,
                             reason="answer is not JSON")
            raise ApiUnavailable("The shop's API answered with something unexpected", **call,
                                 upstream_status=status) from exc
        if response.ok:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            raise ApiError(status, "http_error", response.reason or "Request failed", **call,
                           upstream_status=status)
        raise ApiError(status, str(error.get("code", "http_error")), str(error.get("message", "")),
                       error.get("details"), **call, upstream_status=status)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def counted_get(self, path: str, **kwargs: Any) -> Any:
        """A read the catalog counts as an event (a product page, a search): never repeated once it
        may have reached the service (a read timeout), so one page shown is one event."""
        return self.call("GET", path, idempotent=False, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)


def _log_unavailable(call: dict, started: float, **fields: Any) -> None:
    log.warning("API call failed: upstream unavailable", extra={"fields": {
        "upstream": call["upstream"], "upstreamMethod": call["method"], "upstreamPath": call["path"],
        **fields, "elapsedMs": round((time.perf_counter() - started) * 1000, 1)}})


def api() -> Api:
    return current_app.extensions["storefront_api"]


def current_config() -> StorefrontConfig:
    return current_app.extensions["config"]
