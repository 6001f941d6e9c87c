"""Service-to-service calls: bounded timeouts, retries only where repeating is safe."""

import threading
import time

import pytest
from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

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
    with pytest.raises(ServiceUnavailable) as raised:
        ServiceClient(url, name="slow", read_timeout=0.3, retries=1, backoff=0).get("/slow")
    assert time.monotonic() - started < 1.5
    assert raised.value.error_class == "ReadTimeoutError"  # why, for the logs, without the URL


def test_refused_connection_is_503():
    with pytest.raises(ServiceUnavailable) as raised:
        ServiceClient("http://127.0.0.1:9", name="catalog", retries=1, backoff=0).get("/x")
    assert raised.value.status == 503
    assert raised.value.headers == {"Retry-After": "2"}
    assert raised.value.error_class == "NewConnectionError"


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


def test_calls_made_while_serving_a_request_pass_the_caller_chain_on():
    """Like a proxy: the incoming X-Forwarded-For plus the socket address, as received before
    ProxyFix rewrote it, so the next service can tell the shopper apart from this service."""
    upstream = Flask("upstream")

    @upstream.get("/echo")
    def echo():
        return {"forwardedFor": request.headers.get("X-Forwarded-For")}

    with live_server(upstream) as url:
        client = ServiceClient(url, name="upstream")
        front = Flask("front")
        front.wsgi_app = ProxyFix(front.wsgi_app, x_for=1)

        @front.get("/")
        def call_upstream():
            return {"seenAs": request.remote_addr, **client.get("/echo").json()}

        @front.get("/explicit")
        def explicit():
            return client.get("/echo", headers={"X-Forwarded-For": "192.0.2.1"}).json()

        caller = front.test_client()
        via_alb = caller.get("/", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"},
                             environ_base={"REMOTE_ADDR": "10.0.1.20"}).get_json()
        assert via_alb == {"seenAs": "203.0.113.7", "forwardedFor": "6.6.6.6, 203.0.113.7, 10.0.1.20"}
        direct = caller.get("/", environ_base={"REMOTE_ADDR": "198.51.100.23"}).get_json()
        assert direct["forwardedFor"] == "198.51.100.23"
        assert caller.get("/explicit").get_json() == {"forwardedFor": "192.0.2.1"}
        # Outside a request (CLI commands, jobs) there is nobody to speak for.
        assert client.get("/echo").json() == {"forwardedFor": None}
