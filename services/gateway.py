"""The local stand-in for the ALB: routes each request by services/manifest.py, nothing else.

`make run` serves it at http://localhost:8080; browser tests run it in-process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import urllib3
from werkzeug.wsgi import get_input_stream

from .kit.proxies import upstream_forwarded_for
from .manifest import SERVICES, route

# Hop-by-hop headers are for one connection only (RFC 9110 §7.6.1), so they are never forwarded.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
# The gateway's own server sets these; forwarding the upstream's would send them twice.
SERVER_SET = frozenset({"server", "date"})
# Request threads per gateway worker (its GUNICORN_THREADS), far above the services' default: a
# proxy's threads wait on upstreams nearly all the time, and the storefront calls the APIs back
# through the gateway. With fewer threads than such pages in flight, every thread held a page that
# waited for a free thread, until the storefront's timeouts: 503s after 10 s for 3 pages at once
# with 3 threads, or 12 with 8. The ALB it stands in for has no such limit.
THREADS = 64


def _request_headers(environ: Mapping) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            if name.lower() not in HOP_BY_HOP:
                headers[name] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    headers["X-Forwarded-For"] = upstream_forwarded_for(environ)
    headers["X-Forwarded-Proto"] = environ.get("wsgi.url_scheme", "http")
    headers["X-Forwarded-Host"] = environ.get("HTTP_HOST", "")
    return headers


def _request_body(environ: Mapping) -> bytes:
    """The whole body, whether the client sent a Content-Length or streamed it chunked."""
    return get_input_stream(environ).read()


class Gateway:
    """WSGI app forwarding to `upstreams` (service name → base URL), chosen by the manifest."""

    def __init__(self, upstreams: Mapping[str, str], timeout: float = 30.0):
        missing = {spec.name for spec in SERVICES} - set(upstreams)
        if missing:
            raise ValueError(f"no upstream for {sorted(missing)}")
        self.upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
        # urllib3 keeps no cookies: a jar here would replay one visitor's session to the next.
        self.pool = urllib3.PoolManager(maxsize=THREADS, retries=False,
                                        timeout=urllib3.Timeout(connect=2, read=timeout))

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        service = route(path)
        url = self.upstreams[service.name] + environ.get("SCRIPT_NAME", "") + path
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        try:
            upstream = self.pool.request(
                environ["REQUEST_METHOD"], url, headers=_request_headers(environ),
                body=_request_body(environ) or None, preload_content=False, redirect=False)
        except urllib3.exceptions.HTTPError:
            body = json.dumps({"error": {
                "code": "bad_gateway", "message": f"The {service.name} service is not answering",
                "details": {"service": service.name}}}).encode()
            start_response("502 Bad Gateway", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        # items() keeps repeated fields (several Set-Cookie lines) apart
        headers = [(k, v) for k, v in upstream.headers.items()
                   if k.lower() == "content-length"
                   or k.lower() not in HOP_BY_HOP | SERVER_SET]
        start_response(f"{upstream.status} {upstream.reason}", headers)
        return _stream(upstream)


def _stream(upstream: urllib3.BaseHTTPResponse) -> Iterable[bytes]:
    try:
        # pass bytes through untouched: the upstream's Content-Encoding still applies
        yield from upstream.stream(64 * 1024, decode_content=False)
    finally:
        upstream.release_conn()


def local_upstreams(host: str = "127.0.0.1") -> dict[str, str]:
    return {spec.name: f"http://{host}:{spec.port}" for spec in SERVICES}


def create_gateway(upstreams: Mapping[str, str]) -> Gateway:
    return Gateway(upstreams)


def create_app() -> Gateway:
    """Gunicorn entry point for `make run`: every service on its manifest port on loopback."""
    return Gateway(local_upstreams())
