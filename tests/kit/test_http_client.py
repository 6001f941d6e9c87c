"""Service-to-service calls: bounded timeouts, retries only where repeating is safe."""

import threading
import time

import pytest
from flask import Flask, request

from services.kit.errors import ServiceUnavailable
from services.kit.http import ServiceClient
from tests.conftest import live_server


@pytest.fixture
def flaky():
    app = Flask("flaky")
    calls = {"GET": 0, "POST": 0}
    lock = threading.Lock()

    @app.route("/flaky", methods=["GET", "POST"])
    def flaky_route():
        with lock:
            calls[request.method] += 1
            n = calls[request.method]
        return ("busy", 503) if n < 3 else {"ok": True, "calls": n}

    @app.get("/slow")
    def slow():
        time.sleep(2)
        return {"ok": True}

    with live_server(app) as url:
        yield url, calls


def test_idempotent_calls_are_retried(flaky):
    url, calls = flaky
    response = ServiceClient(url, name="flaky", retries=2, backoff=0).get("/flaky")
    assert response.status_code == 200
    assert calls["GET"] == 3


def test_posts_are_not_repeated_unless_marked_idempotent(flaky):
    url, calls = flaky
    client = ServiceClient(url, name="flaky", retries=2, backoff=0)
    assert client.post("/flaky").status_code == 503
    assert calls["POST"] == 1
    assert client.post("/flaky", idempotent=True).status_code == 200


def test_slow_upstream_fails_fast_with_503(flaky):
    url, _ = flaky
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        ServiceClient(url, name="slow", read_timeout=0.3, retries=1, backoff=0).get("/slow")
    assert time.monotonic() - started < 1.5


def test_refused_connection_is_503():
    with pytest.raises(ServiceUnavailable) as raised:
        ServiceClient("http://127.0.0.1:9", name="catalog", retries=1, backoff=0).get("/x")
    assert raised.value.status == 503
    assert raised.value.headers == {"Retry-After": "2"}


def test_cookies_from_one_call_are_never_sent_on_the_next():
    app = Flask("cookies")

    @app.get("/set")
    def set_cookie():
        response = app.make_response({"ok": True})
        response.set_cookie("session", "alice")
        return response

    @app.get("/echo")
    def echo():
        return {"cookie": request.headers.get("Cookie")}

    with live_server(app) as url:
        client = ServiceClient(url, name="cookies")
        client.get("/set")
        assert client.get("/echo").json() == {"cookie": None}
