"""While the catalog is unavailable (a restart, a deployment), the pages built from the storefront's
public copies (home, a product page, the category menu) keep answering from the last copy for
PUBLIC_READ_STALE_SECONDS; the catalog's own pages (lists, searches) and anything older are a 503."""

from __future__ import annotations

import time
import types

import pytest

from services.kit import caching
from services.manifest import route
from services.storefront.api import ApiUnavailable

from .helpers import Browserless
from .test_product_hidden import _hide, _new_product


@pytest.fixture
def later(stack, monkeypatch):
    """Moves the public copies' clock forward by the given seconds; the copies made meanwhile are
    dropped afterwards (their clock was ahead), for the tests that share the stack."""
    shift = {"s": 0.0}
    clock = types.SimpleNamespace(monotonic=lambda: time.monotonic() + shift["s"])
    monkeypatch.setattr(caching, "time", clock)

    def move(seconds: float) -> None:
        shift["s"] += seconds
    yield move
    stack.storefront_app.extensions["storefront_api"].public_reads.clear()


def _catalog_down(stack, monkeypatch) -> None:
    api = stack.storefront_app.extensions["storefront_api"]
    real = api.call

    def down(method, path, **kwargs):
        if route(path).name == "catalog":
            raise ApiUnavailable(upstream="catalog", method=method, path=path)
        return real(method, path, **kwargs)

    monkeypatch.setattr(api, "call", down)


def test_home_and_product_pages_stand_while_the_catalog_restarts(stack, monkeypatch, later):
    product = stack.api("GET", "/api/products", params={"sort": "name"}).json()["items"][3]
    browser = Browserless(stack.url)
    page = f"/products/{product['id']}"
    assert browser.get(page).status_code == 200 and browser.get("/").status_code == 200

    _catalog_down(stack, monkeypatch)
    later(30)  # every copy has expired: each page asks the catalog again, which cannot answer
    shown = browser.get(page)
    assert shown.status_code == 200 and product["name"] in shown.text
    assert browser.get("/").status_code == 200
    assert browser.get("/products", params={"q": "kem"}).status_code == 503  # a search is never a copy

    later(stack.storefront_app.extensions["config"].public_read_stale_seconds)
    assert browser.get(page).status_code == 503  # too old to stand in


def test_a_product_hidden_since_its_copy_was_made_stays_gone_while_the_catalog_restarts(
        stack, monkeypatch, later):
    product = _new_product(stack, "Bánh Ẩn Trước Sự Cố")
    browser = Browserless(stack.url)
    page = f"/products/{product['id']}"
    assert browser.get(page).status_code == 200
    _hide(stack, product)
    later(30)
    assert browser.get(page).status_code == 404
    _catalog_down(stack, monkeypatch)
    later(5)
    assert browser.get(page).status_code == 503  # no copy stands in for what was since hidden
