"""HTTP client for calls between services: connect/read timeouts and bounded retries.

Built on urllib3 directly: requests added about 0.8 ms of CPU per call (session merging, cookie
and proxy handling) that service traffic has no use for (README "Benchmarks").
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import urllib3
from flask import g, has_request_context, request
from urllib3.util.retry import Retry

from .errors import ServiceUnavailable
from .logs import REQUEST_ID_HEADER
from .proxies import upstream_forwarded_for

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class ServiceResponse:
    status_code: int
    reason: str
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return jsonlib.loads(self.content)


class UpstreamUnavailable(ServiceUnavailable):
    """The upstream could not be reached, or did not answer in time. `error_class` says why for the
    logs (NewConnectionError, ReadTimeoutError...): never the urllib3 error's text, which holds the
    full URL and its query string."""

    def __init__(self, service: str, error: urllib3.exceptions.HTTPError):
        # Retry-After like the kit's database 503: callers may retry (with the same key).
        super().__init__(f"The {service} service is unavailable", code="upstream_unavailable",
                         headers={"Retry-After": "2"})
        reason = getattr(error, "reason", None)  # MaxRetryError wraps the last try's error
        self.error_class = type(reason if isinstance(reason, BaseException) else error).__name__


class ServiceClient:
    """Calls one upstream service. Raises UpstreamUnavailable when it cannot answer in time.

    Keeps no cookies (urllib3 has no cookie jar) and ignores proxy settings in the environment.
    """

    def __init__(self, base_url: str, *, name: str, connect_timeout: float = 1.0,
                 read_timeout: float = 3.0, retries: int = 2, backoff: float = 0.1):
        self.base_url = base_url.rstrip("/")
        self.name = name
        # One request may be repeated on 502/503/504 and read errors; the other only after a
        # refused connection, which never reached the server, so repeating it is always safe.
        self._retry_safe = Retry(
            total=retries, connect=retries, read=retries, status=retries,
            status_forcelist=(502, 503, 504), allowed_methods=None, backoff_factor=backoff,
            raise_on_status=False, respect_retry_after_header=False)
        self._retry_once = Retry(
            total=retries, connect=retries, read=0, status=0, other=0, backoff_factor=backoff,
            raise_on_status=False)
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=32, timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))

    def request(self, method: str, path: str, *, token: str | None = None,
                idempotent: bool | None = None, json: Any = None, params: dict | None = None,
                headers: dict[str, str] | None = None) -> ServiceResponse:
        """`idempotent` overrides the method's default, e.g. for a read-only POST lookup."""
        method = method.upper()
        headers = dict(headers or {})
        if has_request_context():
            if g.get("request_id"):
                headers.setdefault(REQUEST_ID_HEADER, g.request_id)
            # Pass the caller's address on like a proxy, so the next service (e.g. the users login
            # throttle) sees the shopper behind us rather than this service's own address.
            forwarded_for = upstream_forwarded_for(request.environ)
            if forwarded_for:
                headers.setdefault("X-Forwarded-For", forwarded_for)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = None
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        url = self.base_url + path + (f"?{urlencode(params, doseq=True)}" if params else "")
        safe = method in IDEMPOTENT if idempotent is None else idempotent
        try:
            response = self._pool.request(method, url, body=body, headers=headers,
                                          retries=self._retry_safe if safe else self._retry_once)
        except urllib3.exceptions.HTTPError as exc:
            raise UpstreamUnavailable(self.name, exc) from exc
        return ServiceResponse(response.status, response.reason or "", response.data)

    def get(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ServiceResponse:
        return self.request("DELETE", path, **kwargs)
