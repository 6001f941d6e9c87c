"""Pages that call the APIs back through the gateway do not starve it of threads.

The storefront reaches users and orders at API_BASE_URL, which under `make run` (and in the bench)
is this gateway: a page holds one gateway thread while its API call needs another. With as many
such pages in flight as the gateway had threads, every thread waited on a call that no free thread
could carry, until the storefront's timeouts answered 503. The test runs the real gateway under
gunicorn with the settings `make run` gives it, in front of a stand-in storefront that calls back.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3

from bench.stack import Server, wait_until_healthy
from services import gateway
from services.manifest import SERVICES
from tests.conftest import live_server

PAGES_AT_ONCE = 24  # 8 × the services' 3 threads, 3 × the 8 they had before
CALL_TIMEOUT_S = 3.0


def _storefront_and_apis(gateway_url: list[str]):
    """A page (any path but /api/...) that fetches an API through the gateway, as the storefront does."""
    client = urllib3.PoolManager(maxsize=PAGES_AT_ONCE, timeout=CALL_TIMEOUT_S, retries=False)

    def app(environ, start_response):
        if environ["PATH_INFO"].startswith("/api/"):
            time.sleep(0.05)  # the API's own work
            status, body = "200 OK", b"api"
        else:
            try:
                answer = client.request("GET", gateway_url[0] + "/api/orders/user/1")
                status, body = "200 OK", b"page with " + answer.data
            except urllib3.exceptions.HTTPError:
                status, body = "503 Service Unavailable", b"the API did not answer"
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return app


@pytest.fixture
def gateway_url(tmp_path):
    url: list[str] = []
    with live_server(_storefront_and_apis(url)) as upstream:
        upstreams = {spec.name: upstream for spec in SERVICES}
        server = Server("gateway", f"services.gateway:create_gateway({upstreams!r})",
                        tmp_path / "gateway.log",
                        # one worker, as `make run` starts it
                        env={**os.environ, "WEB_CONCURRENCY": "1",
                             "GUNICORN_THREADS": str(gateway.THREADS)})
        url.append(server.url)  # known before it starts: the port is reserved
        try:
            server.start()
            wait_until_healthy([server])
            yield server.url
        finally:
            server.stop()


def test_many_pages_that_call_back_through_the_gateway_at_once(gateway_url):
    pages = urllib3.PoolManager(maxsize=PAGES_AT_ONCE, retries=False)

    def page(_n: int) -> tuple[int, float]:
        started = time.monotonic()
        response = pages.request("GET", gateway_url + "/products/1", timeout=4 * CALL_TIMEOUT_S)
        return response.status, time.monotonic() - started

    with ThreadPoolExecutor(PAGES_AT_ONCE) as pool:
        answers = list(pool.map(page, range(PAGES_AT_ONCE)))
    assert [status for status, _ in answers] == [200] * PAGES_AT_ONCE, answers
    assert max(seconds for _, seconds in answers) < CALL_TIMEOUT_S, answers
