"""Two tabs of one browser: a slow answer from one tab must never bring back (or switch to) the
identity another tab signed out of, nor show that identity's messages.

The slow answer is held the way a real one is late: `page.route` lets the request reach the shop
(`route.fetch()`, with the cookie the tab sent), and its answer reaches the browser only after the
other tab has signed out (or in as someone else).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect

from .helpers import Browserless, csrf_token, flashes
from .test_browser import add_size, log_in, register


def _answer_after(tab: Page, url: str, meanwhile) -> None:
    """The next request `tab` makes to `url` is handled by the shop at once, and its answer
    reaches the browser only after `meanwhile()` ran."""
    def hold(route: Route) -> None:
        answer = route.fetch(max_redirects=0)
        meanwhile()
        route.fulfill(response=answer)
        tab.unroute(url, hold)

    tab.route(url, hold)


def _signed_out(page: Page) -> None:
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=/account$"))


def test_a_late_add_to_cart_answer_does_not_sign_the_shopper_back_in(page: Page, stack):
    register(page, name="Tab Một")
    product = stack.api("GET", "/api/products", params={"q": "tiramisu"}).json()["items"][0]
    other_tab = page.context.new_page()
    other_tab.goto(f"/products/{product['id']}")
    size = product["sizes"][0]["size"]

    def sign_out_in_the_first_tab() -> None:
        page.get_by_role("button", name="Đăng xuất").click()
        expect(page.get_by_text("Bạn đã đăng xuất.")).to_be_visible()

    _answer_after(other_tab, "**/cart/add", sign_out_in_the_first_tab)
    other_tab.get_by_role("radio", name=re.compile(rf"^{re.escape(size)} ")).check()
    other_tab.get_by_role("button", name="Thêm vào giỏ").click()
    # The add itself went through as the shopper was then; its answer came after the sign-out.
    expect(other_tab.get_by_role("link", name="Đăng nhập")).to_be_visible()
    expect(other_tab.get_by_text(re.compile(r"^Đã thêm 1 × "))).to_have_count(0)
    _signed_out(page)
    _signed_out(other_tab)


def test_a_late_checkout_answer_does_not_switch_back_to_the_previous_account(page: Page, stack):
    first = register(page, name="Người Thứ Nhất")
    product = stack.api("GET", "/api/products", params={"q": "tiramisu"}).json()["items"][0]
    page.goto(f"/products/{product['id']}")
    add_size(page, product["sizes"][0]["size"])
    second = stack.register(name="Người Thứ Hai")
    checkout_tab = page.context.new_page()
    checkout_tab.goto("/checkout")

    def switch_account_in_the_first_tab() -> None:
        page.get_by_role("button", name="Đăng xuất").click()
        expect(page.get_by_text("Bạn đã đăng xuất.")).to_be_visible()
        log_in(page, second["email"], second["password"])

    _answer_after(checkout_tab, "**/checkout", switch_account_in_the_first_tab)
    checkout_tab.get_by_role("button", name="Đặt hàng").click()
    token = stack.login(first["email"], first["password"])
    user_id = stack.api("POST", "/api/auth/verify", token).json()["user"]["id"]
    orders = stack.api("GET", f"/api/orders/user/{user_id}", token).json()["orders"]
    assert len(orders) == 1  # the first account's order was placed, its answer came late
    # The browser stays signed in as the second account, which does not see the first one's order.
    expect(checkout_tab.get_by_text("Không tìm thấy trang")).to_be_visible()
    for tab in (page, checkout_tab):
        tab.goto("/account")
        expect(tab.get_by_text(f"Email: {second['email']}")).to_be_visible()
        tab.goto("/orders")
        expect(tab.get_by_test_id("order-row")).to_have_count(0)


def test_only_signing_in_and_out_send_the_identity_cookie(stack):
    """Flashes, the cart count and the header's name after a profile change go in the scraps cookie,
    so no answer but a sign-in or sign-out can overwrite who the browser is signed in as."""
    shopper = stack.register(name="Cookie Riêng")
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    saved = client.form_post("/account", "/account", {"name": "Tên Mới", "phone": "0901234567",
                                                      "address": "1 Lê Lợi"})
    assert saved.status_code == 302
    assert _cookies_set(saved) == ["sweetdream_scraps"]
    page = client.get("/account").text
    assert "Tên Mới" in page and flashes(page) == ["Đã lưu thông tin của bạn."]
    signed_out = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert _cookies_set(signed_out) == ["sweetdream_session", "sweetdream_scraps"]
    assert "Tên Mới" not in client.get("/").text


def test_the_profile_page_brings_back_a_header_name_whose_scraps_were_lost(stack):
    shopper = stack.register(name="Tên Cũ")
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    client.form_post("/account", "/account",
                     {"name": "Tên Sau", "phone": "0901234567", "address": "1 Lê Lợi"})
    client.cookies.set("sweetdream_scraps", None)  # lost to a late answer from another tab
    assert "Tên Cũ" in client.get("/products").text
    client.get("/account")
    header = client.get("/products").text
    assert "Tên Sau" in header and "Tên Cũ" not in header


def test_a_sign_out_keeps_the_visitors_session_id_beyond_the_browser_session(stack):
    """Events of one visit are tied by the session id; a cookie that ends with the browser would
    lose it (and an add waiting for sign-in) at the next start."""
    shopper = stack.register(name="Ra Về")
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    signed_out = client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    [identity] = [header for header in signed_out.raw.headers.getlist("Set-Cookie")
                  if header.startswith("sweetdream_session=")]
    assert "Expires=" in identity


def _cookies_set(response) -> list[str]:
    return [header.split("=", 1)[0] for header in response.raw.headers.getlist("Set-Cookie")]
