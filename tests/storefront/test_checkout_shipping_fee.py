"""Checkout when the storefront's shipping fee is not the orders service's, whose figure is binding
(README: the storefront's is only shown on the cart). It was a loop: every confirm refused with
409 price_changed, and the page shown again with the same figures."""

from __future__ import annotations

import re
import uuid

import pytest

from services.storefront import create_app as create_storefront
from services.storefront.config import StorefrontConfig
from tests.conftest import live_server

from .helpers import Browserless

GUESSED_FEE, BINDING_FEE = 25_000, 30_000  # the stack's orders service charges 30.000 ₫
ADDRESS = ("shippingAddress", "5 Hai Bà Trưng")


@pytest.fixture
def storefront(stack):
    """A storefront of its own (it learns fees) with another fee, on the stack's real APIs."""
    app = create_storefront(StorefrontConfig(
        environment="test", api_base_url=stack.url, secret_key="fee-test-secret",
        data_dir=stack.public_key_file.parent, event_log_file=str(stack.event_log),
        log_level="WARNING", shipping_fee_vnd=GUESSED_FEE))
    with live_server(app) as url:
        yield url


def _shopper_with_a_cake(stack, storefront: str, quantity: int) -> tuple[dict, Browserless, dict]:
    """A signed-in shopper with `quantity` of a cake of the test's own (one size, 12cm at 90.000 ₫)."""
    category = stack.api("GET", "/api/categories").json()["items"][0]
    created = stack.api("POST", "/api/products", stack.admin_token(), json={
        "name": f"Bánh Phí {uuid.uuid4().hex[:6]}", "categoryId": category["id"],
        "sizes": [{"size": "12cm", "price": 90000}]})
    assert created.status_code == 201, created.text
    product = created.json()
    shopper = stack.register()
    client = Browserless(storefront)
    client.login(shopper["email"], shopper["password"])
    added = client.form_post(f"/products/{product['id']}", "/cart/add",
                             {"productId": product["id"], "size": "12cm", "quantity": quantity})
    assert added.status_code == 302
    return shopper, client, product


def _form(html: str) -> list[tuple[str, str]]:
    form = html.split('id="checkout-form"', 1)[1].split("</form>", 1)[0]
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)


def _shown_total(html: str) -> str:
    return re.search(r'data-testid="total">([^<]*)<', html).group(1)


def _orders_of(stack, shopper) -> list[dict]:
    return stack.api("GET", f"/api/orders/user/{shopper['user']['id']}", shopper["token"]).json()["orders"]


def _set_price(stack, product: dict, price: int) -> None:
    changed = stack.api("PATCH", f"/api/products/{product['id']}/sizes/{product['sizes'][0]['id']}",
                        stack.admin_token(), json={"price": price})
    assert changed.status_code == 200, changed.text


def test_a_shopper_checks_out_at_the_orders_services_fee(stack, storefront):
    shopper, client, product = _shopper_with_a_cake(stack, storefront, quantity=2)
    page = client.get("/checkout").text
    assert _shown_total(page) == "205.000 ₫"  # 2 × 90.000 + the storefront's guess

    refused = client.post("/checkout", data=[*_form(page), ADDRESS])
    assert refused.status_code == 409 and _orders_of(stack, shopper) == []
    assert "tổng tiền bây giờ là 210.000 ₫ (trước đó 205.000 ₫)" in refused.text
    assert _shown_total(refused.text) == "210.000 ₫"
    assert dict(_form(refused.text))["totalAmount"] == "210000"
    assert "5 Hai Bà Trưng</textarea>" in refused.text

    placed = client.post("/checkout", data=[*_form(refused.text), ADDRESS])
    assert placed.status_code == 302
    [order] = _orders_of(stack, shopper)
    assert (order["shippingFee"], order["totalAmount"]) == (BINDING_FEE, 210_000)

    # From then on the storefront shows the binding fee: the next checkout goes through at once.
    client.form_post(f"/products/{product['id']}", "/cart/add",
                     {"productId": product["id"], "size": "12cm", "quantity": 1})
    cart_page = client.get("/cart").text
    assert _shown_total(cart_page) == "120.000 ₫"
    assert "Phí giao hàng 30.000 ₫" in cart_page  # the footer too
    page = client.get("/checkout").text
    assert _shown_total(page) == "120.000 ₫"
    assert client.post("/checkout", data=[*_form(page), ADDRESS]).status_code == 302
    assert sorted(order["totalAmount"] for order in _orders_of(stack, shopper)) == [120_000, 210_000]
    started = [event["properties"]["cartTotal"] for event in stack.events()
               if event["event"] == "Checkout Started" and str(event["userId"]) == str(shopper["user"]["id"])]
    assert started == [205_000, 120_000]


def test_a_price_changed_after_the_page_was_shown_is_still_confirmed_first(stack, storefront):
    shopper, client, product = _shopper_with_a_cake(stack, storefront, quantity=1)
    page = client.get("/checkout").text
    _set_price(stack, product, 100_000)

    refused = client.post("/checkout", data=[*_form(page), ADDRESS])
    assert refused.status_code == 409
    assert "tổng tiền bây giờ là 130.000 ₫ (trước đó 115.000 ₫)" in refused.text
    assert ("price", "100000") in _form(refused.text) and "100.000 ₫" in refused.text

    _set_price(stack, product, 110_000)  # again, while the shopper reads the new total
    again = client.post("/checkout", data=[*_form(refused.text), ADDRESS])
    assert again.status_code == 409 and _orders_of(stack, shopper) == []
    assert "tổng tiền bây giờ là 140.000 ₫ (trước đó 130.000 ₫)" in again.text

    assert client.post("/checkout", data=[*_form(again.text), ADDRESS]).status_code == 302
    [order] = _orders_of(stack, shopper)
    assert order["totalAmount"] == 140_000 and order["items"][0]["unitPrice"] == 110_000


def test_an_answer_not_about_the_carts_lines_keeps_its_own_prices(stack):
    from services.storefront.views.cart import _at_quoted_prices, cart_totals

    line = {"productId": 1, "size": "12cm", "quantity": 2, "unitPrice": 90000, "lineTotal": 180000}
    cart = {"available": [line], "subtotal": 180000, "itemCount": 2}
    quoted = {**line, "price": 95000, "lineTotal": 190000}
    with stack.storefront_app.app_context():
        for quote in (None, [], {}, {"items": [{**quoted, "size": "16cm"}]},
                      {"items": [quoted, {**quoted, "productId": 2}]},
                      {"items": [quoted], "subtotal": 190000}):
            assert _at_quoted_prices(cart, quote) == (cart, cart_totals(cart)), quote
