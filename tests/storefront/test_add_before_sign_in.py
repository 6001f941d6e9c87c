"""A visitor who taps "Thêm vào giỏ" before signing in keeps that choice: signing in (or up) adds
the cake, size and quantity they picked, and brings them back to the product page."""

from __future__ import annotations

import time

from flask import session

from services.storefront import create_app
from services.storefront.api import ApiUnavailable
from services.storefront.config import StorefrontConfig
from services.storefront.views import cart

from .helpers import Browserless, csrf_token, flashes


def _product_with_two_sizes(stack) -> dict:
    return next(p for p in stack.api("GET", "/api/products", params={"sort": "name"}).json()["items"]
                if len(p["sizes"]) > 1)


def _cart_lines(stack, shopper: dict) -> list[tuple[int, str, int]]:
    cart = stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()
    return [(line["productId"], line["size"], line["quantity"]) for line in cart["items"]]


def _add_as_visitor(client: Browserless, product: dict, size: str, quantity: int):
    page_path = f"/products/{product['id']}"
    response = client.form_post(page_path, "/cart/add", {
        "productId": product["id"], "size": size, "quantity": quantity, "next": page_path})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    return page_path


def test_signing_in_adds_what_the_visitor_chose(stack):
    shopper = stack.register()
    product = _product_with_two_sizes(stack)
    size = product["sizes"][1]["size"]
    client = Browserless(stack.url)
    page_path = _add_as_visitor(client, product, size, 2)
    assert _cart_lines(stack, shopper) == []

    login_page = client.get(f"/login?next={page_path}")
    signed_in = client.post("/login", data={"csrf_token": csrf_token(login_page.text), "next": page_path,
                                            "email": shopper["email"], "password": shopper["password"]})
    assert (signed_in.status_code, signed_in.headers["Location"]) == (302, page_path)
    assert _cart_lines(stack, shopper) == [(product["id"], size, 2)]
    assert f"Đã thêm 2 × {product['name']} ({size}) vào giỏ hàng." in flashes(client.get(page_path).text)
    client.form_post("/", "/logout", {})  # once only: a later sign-in adds nothing again
    client.login(shopper["email"], shopper["password"])
    assert _cart_lines(stack, shopper) == [(product["id"], size, 2)]


def test_signing_up_adds_it_too(stack):
    product = _product_with_two_sizes(stack)
    size = product["sizes"][0]["size"]
    client = Browserless(stack.url)
    page_path = _add_as_visitor(client, product, size, 3)
    email = f"new-{time.time_ns()}@example.com"
    form = client.get(f"/register?next={page_path}")
    registered = client.post("/register", data={
        "csrf_token": csrf_token(form.text), "next": page_path, "name": "Khách Mới", "email": email,
        "password": "matkhau-123"})
    assert (registered.status_code, registered.headers["Location"]) == (302, page_path)
    token = stack.login(email, "matkhau-123")
    customer = stack.api("GET", "/api/customers", stack.admin_token(), params={"q": email}).json()
    [user_id] = [c["id"] for c in customer["items"] if c["email"] == email]
    assert _cart_lines(stack, {"user": {"id": user_id}, "token": token}) == [(product["id"], size, 3)]


def test_a_choice_left_waiting_too_long_is_not_added():
    app = create_app(StorefrontConfig(api_base_url="http://127.0.0.1:9"))
    with app.test_request_context("/"):
        session[cart.PENDING_ADD] = {"productId": 1, "size": "16cm", "quantity": 1,
                                     "at": time.time() - cart.PENDING_ADD_SECONDS - 1}
        assert cart.take_pending_add() is None and cart.PENDING_ADD not in session
        session[cart.PENDING_ADD] = {"productId": 1, "size": "16cm", "quantity": 1, "at": time.time()}
        assert cart.take_pending_add()["size"] == "16cm"


def test_a_cart_that_cannot_answer_after_sign_in_is_said_and_the_sign_in_stands(stack, monkeypatch):
    shopper = stack.register()
    product = _product_with_two_sizes(stack)
    client = Browserless(stack.url)
    page_path = _add_as_visitor(client, product, product["sizes"][0]["size"], 1)
    api = stack.storefront_app.extensions["storefront_api"]
    real_post = api.post

    def cart_down(path, **kwargs):
        if path == "/api/cart":
            raise ApiUnavailable()
        return real_post(path, **kwargs)

    monkeypatch.setattr(api, "post", cart_down)
    login_page = client.get(f"/login?next={page_path}")
    signed_in = client.post("/login", data={"csrf_token": csrf_token(login_page.text), "next": page_path,
                                            "email": shopper["email"], "password": shopper["password"]})
    assert (signed_in.status_code, signed_in.headers["Location"]) == (302, page_path)
    page = client.get(page_path).text
    assert "Chưa thêm được bánh bạn chọn vào giỏ hàng; vui lòng thử lại." in flashes(page)
    assert 'action="/logout"' in page  # signed in all the same
    assert _cart_lines(stack, shopper) == []
