"""A product page is one Product Viewed, counted by the storefront with the browser's session and the
shopper's id, while the page itself comes from the storefront's public copy of the product: the
catalog is asked once per product within the copy's lifetime, and counts nothing for it."""

from __future__ import annotations

from tests.conftest import read_events

from .helpers import Browserless


def _product(stack, index: int) -> dict:
    return stack.api("GET", "/api/products", params={"sort": "name"}).json()["items"][index]


def _views(stack, product_id: int) -> list[dict]:
    return [event for event in read_events(stack.event_log, "Product Viewed")
            if event["properties"]["productId"] == product_id]


def test_each_product_page_shown_is_one_view_counted_by_the_storefront(stack, monkeypatch):
    product = _product(stack, 0)
    shopper = stack.register(name="Khách Xem Bánh")
    browser = Browserless(stack.url)
    browser.login(shopper["email"], shopper["password"])
    api = stack.storefront_app.extensions["storefront_api"]
    asked, real = [], api.call

    def record(method, path, **kwargs):
        asked.append(path)
        return real(method, path, **kwargs)

    monkeypatch.setattr(api, "call", record)
    before = len(_views(stack, product["id"]))

    for _ in range(3):
        assert browser.get(f"/products/{product['id']}").status_code == 200
    assert browser.head(f"/products/{product['id']}").status_code == 200  # shows nobody anything

    views = _views(stack, product["id"])[before:]
    assert [(event["service"], event["userId"]) for event in views] == [
        ("storefront", str(shopper["user"]["id"]))] * 3
    assert views[0]["properties"] == {"productId": product["id"], "productName": product["name"],
                                      "price": product["minPrice"], "category": product["category"]["name"]}
    assert views[0]["sessionId"] and {event["sessionId"] for event in views} == {views[0]["sessionId"]}
    assert asked.count(f"/api/products/{product['id']}") <= 1  # the public copy, not a call per view


def test_an_anonymous_view_is_counted_with_the_browser_session(stack):
    product = _product(stack, 1)
    before = len(_views(stack, product["id"]))
    assert Browserless(stack.url).get(f"/products/{product['id']}").status_code == 200
    [view] = _views(stack, product["id"])[before:]
    assert view["service"] == "storefront" and view["userId"] is None and view["sessionId"]


def test_an_admins_view_is_not_counted(stack, admin):
    product = _product(stack, 2)
    before = len(_views(stack, product["id"]))
    assert admin.get(f"/products/{product['id']}").status_code == 200
    assert _views(stack, product["id"])[before:] == []


def test_an_unknown_product_is_a_404_page_and_no_view(stack):
    before = len(read_events(stack.event_log, "Product Viewed"))
    browser = Browserless(stack.url)
    assert browser.get("/products/999999").status_code == 404
    assert browser.get("/products/99999999999999999999").status_code == 404
    assert len(read_events(stack.event_log, "Product Viewed")) == before
