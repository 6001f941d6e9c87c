"""Forms left open in one tab while the shopper signs in or out in another: "Đăng xuất" still signs
out, and any other form is sent back to its page (or to sign in) with a clear message instead of a
bare 400. Nothing the old form asked for is done, and forged tokens stay refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .helpers import Browserless, csrf_token, flashes

OVERTAKEN = "Bạn vừa đăng nhập hoặc đăng xuất ở một thẻ khác, nên thao tác trên trang cũ chưa được thực hiện."
SIGNED_OUT = "Bạn đã đăng xuất ở một thẻ khác, nên thao tác trên trang cũ chưa được thực hiện."


def _signed_in(stack, shopper) -> Browserless:
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    return client


def _sign_out(client: Browserless) -> None:
    """What the other tab does: a fresh page's "Đăng xuất"."""
    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert response.status_code == 302


def _signed_in_as(client: Browserless) -> str | None:
    page = client.get("/account")
    if page.status_code == 302:
        return None
    return page.text.split("Email: ", 1)[1].split("<", 1)[0]


def _cart_items(stack, shopper) -> list:
    return stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()["items"]


def test_a_stale_logout_signs_out_the_account_signed_in_since(stack):
    first, second = stack.register(name="Thẻ Cũ"), stack.register(name="Thẻ Mới")
    client = _signed_in(stack, first)
    stale_token = csrf_token(client.get("/account").text)  # the first tab's "Đăng xuất"
    _sign_out(client)
    client.login(second["email"], second["password"])
    assert _signed_in_as(client) == second["email"]
    response = client.post("/logout", data={"csrf_token": stale_token})
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    assert flashes(client.get("/").text) == ["Bạn đã đăng xuất."]
    assert _signed_in_as(client) is None


def test_a_stale_form_after_switching_account_goes_back_to_its_page_with_a_message(stack):
    first, second = stack.register(name="Khách Đầu"), stack.register(name="Khách Sau")
    product = stack.api("GET", "/api/products").json()["items"][0]
    page = f"/products/{product['id']}"
    client = _signed_in(stack, first)
    stale_token = csrf_token(client.get(page).text)
    _sign_out(client)
    client.login(second["email"], second["password"])
    response = client.post("/cart/add", headers={"Referer": stack.url + page}, data={
        "csrf_token": stale_token, "productId": product["id"], "size": product["sizes"][0]["size"],
        "quantity": 1, "next": page})
    assert (response.status_code, response.headers["Location"]) == (302, page)
    assert OVERTAKEN + " Vui lòng thử lại." in flashes(client.get(page).text)
    assert _cart_items(stack, first) == [] and _cart_items(stack, second) == []
    assert _signed_in_as(client) == second["email"]


def test_a_stale_form_after_signing_out_leads_to_sign_in_and_back(stack):
    shopper = stack.register(name="Đã Ra")
    product = stack.api("GET", "/api/products").json()["items"][0]
    page = f"/products/{product['id']}"
    client = _signed_in(stack, shopper)
    stale_token = csrf_token(client.get(page).text)
    _sign_out(client)
    client.get("/")  # the other tab shows "Bạn đã đăng xuất."
    response = client.post("/cart/add", headers={"Referer": stack.url + page}, data={
        "csrf_token": stale_token, "productId": product["id"], "size": product["sizes"][0]["size"],
        "quantity": 1, "next": page})
    location = urlsplit(response.headers["Location"])
    assert response.status_code == 302
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": [page]})
    login_page = client.get(response.headers["Location"]).text
    assert flashes(login_page) == [SIGNED_OUT + " Vui lòng đăng nhập rồi thử lại."]
    assert _cart_items(stack, shopper) == []


def test_stale_home_page_form_without_referrer_goes_home(stack):
    first, second = stack.register(name="Không Nguồn"), stack.register(name="Người Khác")
    client = _signed_in(stack, first)
    stale_token = csrf_token(client.get("/account").text)
    _sign_out(client)
    client.login(second["email"], second["password"])
    response = client.post("/account", data={"csrf_token": stale_token, "name": "Đổi Tên"})
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    assert "Đổi Tên" not in client.get("/account").text


def test_json_clients_and_forged_or_cross_site_posts_are_still_refused(stack):
    shopper = stack.register(name="Vẫn Chặn")
    client = _signed_in(stack, shopper)
    stale_token = csrf_token(client.get("/account").text)
    _sign_out(client)
    client.login(shopper["email"], shopper["password"])
    as_json = client.post("/logout", data={"csrf_token": stale_token}, headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and as_json.json()["error"]["code"] == "csrf_failed"
    for origin in ("https://evil.example", "null", stack.url.replace("http://", "https://")):
        cross_site = client.post("/logout", headers={"Origin": origin})
        assert cross_site.status_code == 400 and "Biểu mẫu đã hết hạn" in cross_site.text, origin
    foreign = csrf_token(Browserless(stack.url).get("/login").text)  # another browser's token
    forged = client.post("/account", data={"csrf_token": foreign, "name": "Giả Mạo"},
                         headers={"Referer": stack.url + "/account"})
    assert forged.status_code == 400 and "Biểu mẫu đã hết hạn" in forged.text
    assert _signed_in_as(client) == shopper["email"]
