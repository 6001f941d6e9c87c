"""HTTP client for calls between services: connect/read timeouts and bounded retries."""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from flask import g, has_request_context, request
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import ServiceUnavailable
from .logs import REQUEST_ID_HEADER
from .proxies import upstream_forwarded_for

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ServiceClient:
    """Calls one upstream service. Raises ServiceUnavailable when it cannot answer in time."""

    def __init__(self, base_url: str, *, name: str, connect_timeout: float = 1.0,
                 read_timeout: float = 3.0, retries: int = 2, backoff: float = 0.1):
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout = (connect_timeout, read_timeout)
        # Two pools: one that may repeat a request, one that only retries refused connections
        # (those never reached the server, so repeating them is always safe).
        self._retrying = self._session(Retry(
            total=retries, connect=retries, read=retries, status=retries,
            status_forcelist=(502, 503, 504), allowed_methods=None, backoff_factor=backoff,
            raise_on_status=False, respect_retry_after_header=False))
        self._once = self._session(Retry(
            total=retries, connect=retries, read=0, status=0, other=0, backoff_factor=backoff,
            raise_on_status=False))

    @staticmethod
    def _session(retry: Retry) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # service traffic never goes through a proxy from the env
        # Shared by every request of every user: a cookie kept here would leak between them.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=32, max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def request(self, method: str, path: str, *, token: str | None = None,
                idempotent: bool | None = None, **kwargs: Any) -> requests.Response:
        """`idempotent` overrides the method's default, e.g. for a read-only POST lookup."""
        method = method.upper()
        headers = dict(kwargs.pop("headers", None) or {})
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
        safe = method in IDEMPOTENT if idempotent is None else idempotent
        session = self._retrying if safe else self._once
        try:
            return session.request(method, self.base_url + path, headers=headers,
                                   timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            # Retry-After like the kit's database 503: callers may retry (with the same key).
            raise ServiceUnavailable(f"The {self.name} service is unavailable",
                                     code="upstream_unavailable",
                                     headers={"Retry-After": "2"}) from exc

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)
