"""How the storefront reaches the APIs: catalog paths straight to the catalog when its address is
known; the category menu and the home page's newest cakes read anonymously and reused briefly."""

from __future__ import annotations

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
