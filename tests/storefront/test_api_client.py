"""How the storefront reaches the APIs: catalog paths straight to the catalog when its address is
known; the category menu and the home page's newest cakes read anonymously and reused briefly; a
failing upstream named in the log lines."""

from __future__ import annotations

import json
import socket
import time

import pytest
from flask import Flask, request, session

from services.storefront import create_app
from services.storefront.api import ApiUnavailable, api
from services.storefront.config import StorefrontConfig
from tests.conftest import live_server


@pytest.fixture
def catalog():
    """A stand-in API that records what reaches it; answers 503 while `down` is set."""
    app = Flask("fake-catalog")
    seen: list[dict] = []
    state = {"down": False}

    @app.get("/api/categories")
    def categories():
        seen.append({"authorization": request.headers.get("Authorization"),
                     "sessionId": request.headers.get("X-Session-Id")})
        if state["down"]:
            return {"error": {"code": "db_unavailable", "message": "down"}}, 503
        return {"items": [{"id": len(seen), "name": "Bánh Kem"}]}

    with live_server(app) as url:
        yield url, seen, state


def storefront(url: str, seconds: float):
    return create_app(StorefrontConfig(api_base_url=url, public_read_cache_seconds=seconds,
                                       api_retries=0))


def test_public_reads_are_anonymous_and_reused_within_the_ttl(catalog):
    url, seen, _ = catalog
    app = storefront(url, 60)
    with app.test_request_context("/"):
        session["token"], session["sid"] = "shopper-token", "browser-session"
        first = api().public_get("/api/categories")
        second = api().public_get("/api/categories")
    assert first == second == {"items": [{"id": 1, "name": "Bánh Kem"}]}
    assert seen == [{"authorization": None, "sessionId": None}]


def test_public_reads_are_not_reused_when_the_ttl_is_zero(catalog):
    url, seen, _ = catalog
    app = storefront(url, 0)
    with app.test_request_context("/"):
        api().public_get("/api/categories")
        api().public_get("/api/categories")
    assert len(seen) == 2


def test_a_failed_public_read_is_not_kept(catalog):
    url, seen, state = catalog
    app = storefront(url, 60)
    state["down"] = True
    with app.test_request_context("/"):
        with pytest.raises(ApiUnavailable):
            api().public_get("/api/categories")
        state["down"] = False
        assert api().public_get("/api/categories")["items"][0]["id"] == 2
    assert len(seen) == 2


def test_a_public_read_the_api_cannot_answer_is_the_last_copy_while_it_is_fresh_enough(catalog):
    url, seen, state = catalog
    app = create_app(StorefrontConfig(api_base_url=url, public_read_cache_seconds=0.01,
                                      public_read_stale_seconds=0.3, api_retries=0))
    with app.test_request_context("/"):
        first = api().public_get("/api/categories")
        time.sleep(0.02)
        state["down"] = True
        assert api().public_get("/api/categories") == first  # the API answered 503: the last copy
        time.sleep(0.3)
        with pytest.raises(ApiUnavailable):
            api().public_get("/api/categories")
    assert len(seen) == 3


def test_catalog_paths_go_straight_to_the_catalog_and_the_rest_through_the_shop_url(catalog):
    url, seen, _ = catalog
    app = create_app(StorefrontConfig(api_base_url="http://127.0.0.1:9", catalog_url=url,
                                      api_retries=0))
    with app.test_request_context("/"):
        session["token"] = "shopper-token"
        assert api().get("/api/categories")["items"]  # the manifest routes it to the catalog
        with pytest.raises(ApiUnavailable):  # users is behind the (closed) shop URL
            api().get("/api/customers/1")
    assert seen == [{"authorization": "Bearer shopper-token", "sessionId": None}]


@pytest.fixture
def failing_catalog():
    """A stand-in API whose product list answers with `state["status"]`."""
    app = Flask("failing-catalog")
    state = {"status": 500}

    @app.get("/api/products")
    def products():
        return {"error": {"code": "internal_error", "message": "secret internals"}}, state["status"]

    with live_server(app) as url:
        yield url, state


def _log_lines(capsys) -> list[dict]:
    """The JSON log lines of a storefront made in this test (it logs to the captured stderr)."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_upstream_500_is_logged_as_an_error_naming_the_service_and_call(failing_catalog, capsys):
    url, _ = failing_catalog
    response = storefront(url, 0).test_client().get("/?from=mail")
    assert response.status_code == 500
    [error] = [line for line in _log_lines(capsys) if line["level"] == "ERROR"]
    assert error["message"] == "API error on GET /"
    assert {key: error[key] for key in ("upstream", "upstreamMethod", "upstreamPath", "upstreamStatus",
                                        "upstreamCode")} == {
        "upstream": "catalog", "upstreamMethod": "GET", "upstreamPath": "/api/products",
        "upstreamStatus": 500, "upstreamCode": "internal_error"}
    assert error["requestId"] and "secret internals" not in json.dumps(error)


def test_an_upstream_answering_503_is_named_with_its_status(failing_catalog, capsys):
    url, state = failing_catalog
    state["status"] = 503
    assert storefront(url, 0).test_client().get("/").status_code == 503
    lines = _log_lines(capsys)
    [failed] = [line for line in lines if line["message"] == "API call failed: upstream unavailable"]
    assert (failed["level"], failed["upstream"], failed["client"], failed["upstreamMethod"],
            failed["upstreamPath"], failed["upstreamStatus"]) == (
        "WARNING", "catalog", "shop API", "GET", "/api/products", 503)
    assert failed["elapsedMs"] >= 0 and "errorClass" not in failed
    [page] = [line for line in lines if line["message"].startswith("API unavailable on GET /:")]
    assert (page["upstream"], page["upstreamPath"], page["upstreamStatus"]) == (
        "catalog", "/api/products", 503)


def test_an_upstream_that_cannot_be_reached_is_named_with_the_error_class(capsys):
    app = storefront(f"http://127.0.0.1:{_closed_port()}", 0)
    assert app.test_client().get("/").status_code == 503
    lines = _log_lines(capsys)
    [failed] = [line for line in lines if line["message"] == "API call failed: upstream unavailable"]
    assert (failed["level"], failed["upstream"], failed["client"], failed["errorClass"],
            failed["upstreamPath"]) == (
        "WARNING", "catalog", "shop API", "NewConnectionError", "/api/products")
    assert "upstreamStatus" not in failed and failed["elapsedMs"] >= 0
    [page] = [line for line in lines if line["message"].startswith("API unavailable on GET /:")]
    assert (page["upstream"], page["upstreamStatus"]) == ("catalog", None)
