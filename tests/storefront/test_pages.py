"""Storefront pages over HTTP against the real stack: security headers, CSRF, escaping, error pages."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.gateway import create_gateway
from services.storefront import create_app as create_storefront
from services.storefront.config import StorefrontConfig
from services.storefront.security import CONTENT_SECURITY_POLICY
from tests.conftest import live_server

from .helpers import (
    FOREIGN_NEXT,
    Browserless,
    csrf_token,
    english_validation,
    field_error,
    flashes,
    inline_code,
)

SCRIPT_NAME = "<script>alert(1)</script>"


@pytest.fixture
def shopper(stack):
    return stack.register()


@pytest.fixture
def client(stack):
    return Browserless(stack.url)


@pytest.fixture
def signed_in(stack, shopper):
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    return client


@pytest.fixture(scope="module")
def script_product(stack):
    """A product whose name is markup, created through the catalog's admin API."""
    token = stack.admin_token()
    category = stack.api("GET", "/api/categories").json()["items"][0]
    response = stack.api("POST", "/api/products", token, json={
        "name": SCRIPT_NAME, "description": '"><img src=x onerror=alert(2)>',
        "categoryId": category["id"], "sizes": [{"size": "12cm", "price": 99000}]})
    assert response.status_code == 201, response.text
    return response.json()


def test_pages_carry_security_headers_and_a_strict_cookie(client):
    response = client.get("/")
    assert response.status_code == 200
    headers = response.headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no nonces needed
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("sweetdream_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test below
    assert 'lang="vi"' in response.text and '<meta charset="utf-8">' in response.text


def test_cookie_is_secure_and_hsts_sent_behind_an_https_load_balancer(stack):
    app = create_storefront(StorefrontConfig(environment="test", api_base_url=stack.url,
                                             session_cookie_secure=True))
    response = app.test_client().get("/", headers={"X-Forwarded-Proto": "https",
                                                   "Accept": "text/html"})
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_page_has_inline_script_or_style(stack, signed_in, script_product):
    pages = ["/", "/products", "/products?q=banh+kem", f"/products/{script_product['id']}",
             "/cart", "/orders", "/account", "/login-does-not-exist"]
    for path in pages:
        response = signed_in.get(path)
        assert response.status_code in (200, 404), path
        assert inline_code(response.text) == [], path


def test_static_assets_are_fingerprinted_and_cached(client):
    html = client.get("/").text
    css = html.split('href="/static/site.css?v=')[1].split('"')[0]
    response = client.get(f"/static/site.css?v={css}")
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_product_named_like_markup_is_rendered_as_text(client, script_product):
    response = client.get(f"/products/{script_product['id']}")
    assert response.status_code == 200
    html = response.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x onerror" not in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html


def test_catalog_search_escapes_the_query(client):
    response = client.get("/products", params={"q": '"><script>alert(3)</script>'})
    assert response.status_code == 200
    assert "<script>alert(3)" not in response.text
    assert "&lt;script&gt;alert(3)" in response.text


def test_form_without_csrf_token_is_rejected(stack, signed_in, shopper):
    product = stack.api("GET", "/api/products").json()["items"][0]
    response = signed_in.post("/cart/add", data={"productId": product["id"],
                                                 "size": product["sizes"][0]["size"], "quantity": 1})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.text
    assert "Traceback" not in response.text
    cart = stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()
    assert cart["items"] == []


def test_csrf_token_of_another_session_is_rejected(stack, signed_in, shopper):
    other = Browserless(stack.url)
    foreign_token = csrf_token(other.get("/login").text)
    product = stack.api("GET", "/api/products").json()["items"][0]
    response = signed_in.post("/cart/add", data={
        "csrf_token": foreign_token, "productId": product["id"],
        "size": product["sizes"][0]["size"], "quantity": 1})
    assert response.status_code == 400
    cart = stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()
    assert cart["items"] == []


def test_login_form_needs_csrf_too(client):
    response = client.post("/login", data={"email": "admin@sweetdream.com", "password": "admin123"})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.text
    assert client.get("/orders").status_code == 302  # still signed out


def test_csrf_rejection_answers_json_to_api_clients(client):
    response = client.post("/logout", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "csrf_failed"


def test_the_session_cookie_is_sent_only_when_the_session_changes(client):
    """A re-sent unchanged cookie can land after a newer one and roll the session back
    (test_browser's slow second tab): so only the first response and real changes send one."""
    first = client.get("/")
    assert first.headers["Set-Cookie"].startswith("sweetdream_session=")
    form_token = csrf_token(client.get("/register").text)  # the secret came with the first cookie
    for path in ("/", "/register", "/login", "/products", "/static/site.css", "/no-such-page"):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert "Set-Cookie" not in response.headers, path
    response = client.post("/login", data={"csrf_token": form_token, "email": "nobody@example.com",
                                           "password": "wrong-password"})
    assert response.status_code == 401  # the CSRF check passed; the sign-in itself failed


def test_signed_in_cart_pages_send_the_cookie_only_when_the_cart_count_changes(stack, signed_in, shopper):
    """The header's count lives in the session: re-sending it unchanged from a slow /cart could land
    after a sign-out in another tab and sign the shopper back in."""
    product = stack.api("GET", "/api/products").json()["items"][0]
    stack.api("POST", "/api/cart", shopper["token"],
              json={"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1})
    assert "Set-Cookie" in signed_in.get("/cart").headers  # the count changed
    for path in ("/cart", "/checkout", "/cart"):
        response = signed_in.get(path, allow_redirects=False)
        assert "Set-Cookie" not in response.headers, path


def test_the_cart_page_never_skips_a_heading_level(stack, signed_in, shopper):
    """Screen readers navigate by headings: h1 then h3 hides that the items are a level of their own."""
    product = stack.api("GET", "/api/products").json()["items"][0]
    stack.api("POST", "/api/cart", shopper["token"],
              json={"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1})
    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", signed_in.get("/cart").text)]
    steps = itertools.pairwise(levels)
    assert levels[0] == 1 and all(later <= earlier + 1 for earlier, later in steps), levels


def test_signing_in_rotates_the_csrf_secret_in_the_same_response(stack, shopper):
    client = Browserless(stack.url)
    anonymous_token = csrf_token(client.get("/login").text)
    client.login(shopper["email"], shopper["password"])
    response = client.post("/account", data={"csrf_token": anonymous_token, "name": "Không Lưu"})
    assert (response.status_code, response.headers["Location"]) == (302, "/")  # void: nothing saved
    client.get("/")  # shows the flashes
    profile = client.get("/account")
    assert profile.status_code == 200 and "Set-Cookie" not in profile.headers
    assert "Không Lưu" not in profile.text
    assert client.post("/logout", data={"csrf_token": csrf_token(profile.text)}).status_code == 302


def test_login_redirects_only_to_local_paths(stack, shopper):
    client = Browserless(stack.url)
    page = client.get("/login?next=//evil.example/steal")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text),
                                           "email": shopper["email"], "password": shopper["password"],
                                           "next": "//evil.example/steal"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_pages_keep_only_local_redirect_targets(stack, shopper):
    for target in FOREIGN_NEXT:
        client = Browserless(stack.url)
        for page in ("/login", "/register"):
            response = client.get(page, params={"next": target})
            assert response.status_code == 200, (page, target)
            assert '<input type="hidden" name="next" value="/">' in response.text, (page, target)
        response = client.post("/login", data={
            "csrf_token": csrf_token(client.get("/login").text), "email": shopper["email"],
            "password": shopper["password"], "next": target})
        assert (response.status_code, response.headers["Location"]) == (302, "/"), target
        for page in ("/login", "/register"):  # already signed in: sent on to the target at once
            response = client.get(page, params={"next": target})
            assert (response.status_code, response.headers["Location"]) == (302, "/"), (page, target)


def test_registration_redirects_only_to_local_paths(stack):
    for target in FOREIGN_NEXT:
        response = Browserless(stack.url).form_post("/register", "/register", {
            "name": "Lan Hồ", "email": f"next-{uuid.uuid4().hex[:10]}@example.com",
            "password": "matkhau-123", "next": target})
        assert (response.status_code, response.headers["Location"]) == (302, "/"), target


def test_add_to_cart_returns_only_to_local_paths(stack, signed_in):
    product = stack.api("GET", "/api/products").json()["items"][0]
    token = csrf_token(signed_in.get(f"/products/{product['id']}").text)
    for target in FOREIGN_NEXT:
        response = signed_in.post("/cart/add", data={
            "csrf_token": token, "productId": product["id"], "size": product["sizes"][0]["size"],
            "quantity": 1, "next": target})
        assert (response.status_code, response.headers["Location"]) == (302, "/cart"), target


def test_add_to_cart_refuses_a_quantity_that_is_not_a_whole_number(stack, signed_in, shopper):
    """As the cart's own quantity form does: never read as 1 and added."""
    product = stack.api("GET", "/api/products").json()["items"][0]
    page = f"/products/{product['id']}"
    token = csrf_token(signed_in.get(page).text)
    line = {"csrf_token": token, "productId": product["id"], "size": product["sizes"][0]["size"],
            "next": page}
    for quantity in ("abc", "", " ", "2.5", "١", "²", "1_0", "0", "100", None):
        typed = {} if quantity is None else {"quantity": quantity}  # None: no quantity sent at all
        response = signed_in.post("/cart/add", data={**line, **typed})
        assert (response.status_code, response.headers["Location"]) == (302, page), quantity
        assert flashes(signed_in.get(page).text) == ["Số lượng phải từ 1 đến 99."], quantity
    cart = stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()
    assert cart["items"] == []


def test_the_carts_quantity_form_refuses_what_is_not_a_whole_number(stack, signed_in, shopper):
    """`int()` reads "١" as 1, "1_0" as 10 and "+5" as 5: none of them is what was typed."""
    product = stack.api("GET", "/api/products").json()["items"][0]
    page = f"/products/{product['id']}"
    signed_in.form_post(page, "/cart/add", {"productId": product["id"], "size": product["sizes"][0]["size"],
                                            "quantity": 2, "next": page})
    cart_url = f"/api/cart/{shopper['user']['id']}"
    [line] = stack.api("GET", cart_url, shopper["token"]).json()["items"]
    for quantity in ("١", "1_0", "+5", "²", "2.0", ""):
        response = signed_in.form_post("/cart", f"/cart/items/{line['id']}", {"quantity": quantity})
        assert response.status_code == 302, quantity
        assert flashes(signed_in.get("/cart").text) == [
            f"Số lượng {line['productName']} ({line['size']}) phải từ 1 đến 99."], quantity
    assert [item["quantity"] for item in stack.api("GET", cart_url, shopper["token"]).json()["items"]] == [2]


def test_wrong_password_shows_a_message_not_an_error_page(stack, shopper):
    client = Browserless(stack.url)
    response = client.form_post("/login", "/login", {"email": shopper["email"], "password": "wrong-pass"})
    assert response.status_code == 401
    assert "Email hoặc mật khẩu không đúng." in response.text


def test_registration_errors_are_shown_next_to_the_fields(stack):
    client = Browserless(stack.url)
    response = client.form_post("/register", "/register",
                                {"name": "A", "email": "not-an-email", "password": "short"})
    assert response.status_code == 422
    assert 'id="f-email-error"' in response.text and 'id="f-password-error"' in response.text
    assert 'aria-invalid="true"' in response.text


def _assert_in_vietnamese(html: str, expected: dict[str, str]) -> None:
    assert {name: field_error(html, f"f-{name}") for name in expected} == expected
    assert not english_validation(html)


def test_validation_messages_are_in_vietnamese(stack, signed_in):
    client = Browserless(stack.url)
    response = client.form_post("/register", "/register",
                                {"name": "", "email": "not-an-email", "password": "short"})
    assert response.status_code == 422
    _assert_in_vietnamese(response.text, {"name": "Vui lòng nhập thông tin này.",
                                          "email": "Email không hợp lệ.",
                                          "password": "Cần ít nhất 8 ký tự."})
    response = client.form_post("/register", "/register", {
        "name": "Lan\x01", "email": "lan@example.com", "password": "matkhau-123", "phone": "abc"})
    # "abc" is too short, but what is wrong with it is the letters: say what a phone number holds.
    _assert_in_vietnamese(response.text, {
        "name": "Có ký tự không hợp lệ.",
        "phone": ("Số điện thoại cần ít nhất 6 ký tự, chỉ gồm chữ số, dấu cách và các dấu ( ) . -, "
                  "có thể mở đầu bằng +")})
    response = client.form_post("/register", "/register",
                                {"name": "Lan", "email": "", "password": "matkhau-123"})
    _assert_in_vietnamese(response.text, {"email": "Vui lòng nhập một địa chỉ email hợp lệ."})

    response = signed_in.form_post("/account", "/account",
                                   {"name": "", "phone": "không có số", "address": ""})
    assert response.status_code == 422
    _assert_in_vietnamese(response.text, {
        "name": "Vui lòng nhập thông tin này.",
        "phone": "Số điện thoại chỉ gồm chữ số, dấu cách và các dấu ( ) . -, có thể mở đầu bằng +"})


def test_pages_that_need_an_account_redirect_to_login(client):
    for path in ("/cart", "/checkout", "/orders", "/account", "/admin/orders"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")


def test_customers_get_403_on_admin_pages(signed_in):
    for path in ("/admin/orders", "/admin/customers", "/admin/products", "/admin/categories",
                 "/admin/analytics"):
        response = signed_in.get(path)
        assert response.status_code == 403, path
        assert "vừa được cấp quyền quản trị, hãy đăng xuất rồi đăng nhập lại" in response.text
        assert "Không có quyền truy cập" in response.text
    tiramisu = signed_in.get("/products").text  # any page, for this session's CSRF token
    response = signed_in.post("/admin/categories/2/delete", data={"csrf_token": csrf_token(tiramisu)})
    assert response.status_code == 403  # a valid form is still not enough without the role


def test_another_customers_order_is_not_found(stack, signed_in):
    other = stack.register()
    product = stack.api("GET", "/api/products").json()["items"][0]
    order = stack.api("POST", "/api/orders", other["token"], json={
        "items": [{"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1}],
        "shippingAddress": "1 Đường A"}).json()
    response = signed_in.get(f"/orders/{order['id']}")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.text


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.text
    assert response.headers["Content-Type"].startswith("text/html")


def _signed_in_with(stack, shopper, token: str, app=None):
    """A storefront test client whose session holds `token`, as a sign-in leaves it."""
    client = (app or stack.storefront_app).test_client()
    with client.session_transaction() as session:
        session.update(sid=uuid.uuid4().hex, token=token, user={"id": shopper["user"]["id"]})
    return client


def _users_private_key(stack):
    return serialization.load_pem_private_key(
        (stack.public_key_file.parent / "jwt-private.pem").read_bytes(), password=None)


def test_expired_sign_in_sends_the_shopper_to_login(stack, shopper, tokens):
    now = int(time.time())
    expired = tokens.token(shopper["user"]["id"], key=_users_private_key(stack), email=shopper["email"],
                           iat=now - 7200, exp=now - 3600)
    client = _signed_in_with(stack, shopper, expired)
    response = client.get("/orders", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    with client.session_transaction() as session:
        assert "token" not in session


def _stale_admin_token(stack, tokens) -> tuple[dict, str]:
    """The shop admin's token issued just over an hour ago (ADMIN_TOKEN_TTL_SECONDS): not yet at its exp."""
    claims = jwt.decode(stack.admin_token(), options={"verify_signature": False})
    admin = {"user": {"id": int(claims["sub"])}, "email": claims["email"]}
    now = int(time.time())
    stale = tokens.token(admin["user"]["id"], "ADMIN", key=_users_private_key(stack),
                         email=admin["email"], iat=now - 3700, exp=now + 20 * 3600)
    return admin, stale


def _assert_sent_to_login_as_expired(client, response, page: str) -> None:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": [page]}
    with client.session_transaction() as session:
        assert "token" not in session
    login_page = client.get(response.headers["Location"], headers={"Accept": "text/html"})
    assert login_page.status_code == 200
    flashes = re.findall(r'<p class="flash flash-\w+">([^<]*)</p>', login_page.get_data(as_text=True))
    assert flashes == ["Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại."]  # one clear message


def test_an_expired_admin_token_sends_the_admin_to_sign_in_again(stack, tokens):
    admin, stale = _stale_admin_token(stack, tokens)
    client = _signed_in_with(stack, admin, stale)
    response = client.get("/admin/orders", headers={"Accept": "text/html"})
    _assert_sent_to_login_as_expired(client, response, "/admin/orders")


def test_an_admin_token_the_apis_refuse_also_sends_the_admin_to_sign_in(stack, tokens):
    """The storefront still trusts the token (a longer setting of its own); the orders API does not."""
    lenient = create_storefront(StorefrontConfig(environment="test", api_base_url=stack.url,
                                                 jwt_public_key_file=str(stack.public_key_file),
                                                 admin_token_ttl_seconds=24 * 3600))
    admin, stale = _stale_admin_token(stack, tokens)
    client = _signed_in_with(stack, admin, stale, app=lenient)
    response = client.get("/admin/orders", headers={"Accept": "text/html"})
    _assert_sent_to_login_as_expired(client, response, "/admin/orders")


def test_a_forged_admin_token_in_the_session_gets_no_admin_page(stack, shopper, tokens):
    forger = ec.generate_private_key(ec.SECP256R1())  # any key but the users service's
    forged = tokens.token(shopper["user"]["id"], "ADMIN", key=forger, email=shopper["email"],
                          exp=int(time.time()) + 600)
    response = _signed_in_with(stack, shopper, forged).get("/admin/orders", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_storefront_shows_a_friendly_503_when_the_apis_are_unreachable(stack):
    app = create_storefront(StorefrontConfig(environment="test", api_base_url="http://127.0.0.1:9",
                                             api_connect_timeout=0.2, api_retries=0,
                                             jwt_public_key_file=str(stack.public_key_file)))
    client = app.test_client()
    for path in ("/", "/products", "/products/1"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 503, path
        assert "Cửa hàng tạm thời gián đoạn" in response.text
        assert response.headers["Retry-After"]
        assert "Traceback" not in response.text and "upstream" not in response.text
    api_client = client.get("/", headers={"Accept": "application/json"})
    assert api_client.status_code == 503
    assert api_client.get_json()["error"]["code"] == "upstream_unavailable"
    assert client.get("/health").status_code == 200  # the storefront itself is fine


def test_one_api_down_behind_the_gateway_gives_the_503_page(stack):
    """The catalog is down; the gateway answers 502 for it, the storefront a friendly page."""
    slot = {}

    def storefront(environ, start_response):
        return slot["app"](environ, start_response)

    with live_server(storefront) as storefront_url:
        upstreams = {"users": stack.url, "orders": stack.url, "catalog": "http://127.0.0.1:9",
                     "storefront": storefront_url}
        with live_server(create_gateway(upstreams)) as gateway_url:
            slot["app"] = create_storefront(StorefrontConfig(
                environment="test", api_base_url=gateway_url, api_retries=0,
                jwt_public_key_file=str(stack.public_key_file)))
            client = Browserless(gateway_url)
            response = client.get("/products")
            assert response.status_code == 503
            assert "Cửa hàng tạm thời gián đoạn" in response.text
            # Pages that do not need the catalog still work.
            assert client.get("/login").status_code == 200


def test_unreachable_signing_keys_give_503_and_keep_the_session(stack, shopper):
    app = create_storefront(StorefrontConfig(environment="test", api_base_url=stack.url,
                                             jwks_url="http://127.0.0.1:9/.well-known/jwks.json"))
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(sid=uuid.uuid4().hex, token=shopper["token"], user={"id": shopper["user"]["id"]})
    response = client.get("/orders", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert "Cửa hàng tạm thời gián đoạn" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert session["token"] == shopper["token"]  # not signed out for our own outage


def test_anonymous_add_to_cart_goes_to_login_and_back(stack):
    client = Browserless(stack.url)
    product = stack.api("GET", "/api/products").json()["items"][0]
    page = client.get(f"/products/{product['id']}")
    response = client.post("/cart/add", headers={"Referer": f"{stack.url}/products/{product['id']}"},
                           data={"csrf_token": csrf_token(page.text), "productId": product["id"],
                                 "size": product["sizes"][0]["size"], "quantity": 1})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/products/{product['id']}"


def test_analytics_page_survives_an_unreadable_event_source(stack, tmp_path):
    app = create_storefront(StorefrontConfig(environment="test", api_base_url=stack.url,
                                             event_log_file=str(tmp_path),  # a directory: unreadable
                                             jwt_public_key_file=str(stack.public_key_file)))
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(sid=uuid.uuid4().hex, token=stack.admin_token(), user={"id": 1})
    response = client.get("/admin/analytics?days=7", headers={"Accept": "text/html"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Không đọc được nguồn sự kiện" in html
    assert 'data-chart="daily"' in html and 'data-chart="funnel"' not in html


def test_page_links_are_built_once_and_follow_the_mount_point(tmp_path):
    from flask import url_for

    from services.storefront import _built_url, page_url

    app = create_storefront(StorefrontConfig(data_dir=tmp_path, api_base_url="http://127.0.0.1:9"))
    cases = [("shop.catalog", {}), ("shop.catalog", {"category": "banh-kem", "page": 2}),
             ("shop.product", {"product_id": 7}), ("static", {"filename": "site.css", "v": "abc"})]
    _built_url.cache_clear()
    for script_root in ("", "/shop"):
        with app.test_request_context("/", base_url=f"http://shop.example{script_root}/"):
            for endpoint, values in cases:
                built = page_url(endpoint, **values)
                assert built == url_for(endpoint, **values) and built.startswith(f"{script_root}/")
            assert page_url("shop.product", product_id=7, _anchor="sizes").endswith("/products/7#sizes")
            assert page_url("shop.catalog", size=["12cm", "16cm"]) == url_for("shop.catalog",
                                                                            size=["12cm", "16cm"])
    assert _built_url.cache_info().misses == 2 * len(cases)
    with app.test_request_context("/"):
        for endpoint, values in cases:
            page_url(endpoint, **values)
    assert _built_url.cache_info().hits == len(cases)


def test_admin_forms_with_required_fields_leave_the_messages_to_the_shop(admin):
    """The browser's own bubbles are in the browser's language; the shop's messages are Vietnamese."""
    for path in ("/admin/products/1", "/admin/products/new", "/admin/categories"):
        for form in re.findall(r"<form\b[^>]*>.*?</form>", admin.get(path).text, re.S):
            opening = form.split(">", 1)[0]
            assert " required" not in form or "novalidate" in opening, (path, opening)
