"""Real-browser journeys: Playwright driving Debian's Chromium against the whole in-process shop.

Screenshots of the main pages are taken along the way (SCREENSHOT_DIR=docs/screenshots refreshes
the README's pictures).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect

from services.storefront.formatting import vnd
from tests.shop import ADMIN_EMAIL, ADMIN_PASSWORD

PHONE = {"width": 390, "height": 844}
SHIPPING = 30_000


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    """Console errors the CSP raises for inline script/style; every test asserts none."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    return seen


def register(page: Page, name: str = "Lan Nguyễn") -> dict:
    email = f"lan-{uuid.uuid4().hex[:8]}@example.com"
    address = "25 Nguyễn Huệ, Quận 1, TP. Hồ Chí Minh"
    page.goto("/")
    page.get_by_role("link", name="Đăng ký").click()
    page.get_by_label("Họ và tên").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu").fill("banhngot-2024")
    page.get_by_label("Số điện thoại").fill("0901234567")
    page.get_by_label("Địa chỉ giao hàng").fill(address)
    page.get_by_role("button", name="Đăng ký").click()
    expect(page.get_by_text(f"Chào mừng {name}")).to_be_visible()
    return {"email": email, "password": "banhngot-2024", "address": address}


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_text("Đăng nhập thành công.")).to_be_visible()


@contextmanager
def without_script_with_a_tiramisu(browser, stack, name: str) -> Iterator[tuple[Page, dict]]:
    """A new shopper in a browser with JavaScript off, signed in with one tiramisu in the cart:
    (the page, the product)."""
    shopper = stack.register(name=name)
    context = browser.new_context(base_url=stack.url, locale="vi-VN", java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, shopper["email"], shopper["password"])
        product = stack.api("GET", "/api/products", params={"q": "tiramisu"}).json()["items"][0]
        page.goto(f"/products/{product['id']}")
        page.get_by_role("button", name="Thêm vào giỏ").click()
        yield page, product
    finally:
        context.close()


def add_size(page: Page, size: str, quantity: int = 1) -> None:
    page.get_by_role("radio", name=re.compile(rf"^{re.escape(size)} ")).check()
    page.get_by_label("Số lượng").fill(str(quantity))
    page.get_by_role("button", name="Thêm vào giỏ").click()
    expect(page.get_by_text(re.compile(rf"^Đã thêm {quantity} × .+ \({re.escape(size)}\) vào giỏ hàng\.$"))
           ).to_be_visible()


def fill_cart_with_one_cake(page: Page, stack) -> dict:
    product = stack.api("GET", "/api/products", params={"q": "tiramisu"}).json()["items"][0]
    page.goto(f"/products/{product['id']}")
    add_size(page, product["sizes"][0]["size"])
    return product


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_shopper_journey(page: Page, stack, screenshot_dir, csp_violations):
    page.goto("/")
    expect(page).to_have_title(re.compile("SweetDream"))
    assert page.locator("html").get_attribute("lang") == "vi"
    page.screenshot(path=screenshot_dir / "home.png", full_page=True)

    shopper = register(page)

    # Search without accents, then narrow to one size: state lives in the URL.
    page.get_by_role("searchbox", name="Tìm bánh").fill("banh kem")
    page.get_by_role("search").get_by_role("button", name="Tìm").click()
    expect(page).to_have_url(re.compile(r"/products\?q=banh\+kem"))
    cards = page.locator(".product-card")
    expect(cards.first).to_be_visible()
    # What the catalog finds for it (other modules' tests may have added cakes that match).
    found = {item["name"] for item in stack.api("GET", "/api/products",
                                                params={"q": "banh kem", "pageSize": 100}).json()["items"]}
    titles = cards.locator(".card-title").all_inner_texts()
    assert set(titles) <= found and any("Bánh Kem" in name for name in titles)
    page.get_by_label("Kích cỡ").select_option("16cm")
    expect(page).to_have_url(re.compile(r"size=16cm"))
    expect(page).to_have_url(re.compile(r"q=banh\+kem"))
    for chips in cards.locator(".sizes").all_inner_texts():
        assert "16cm" in chips

    # Open a product and add two of its sizes.
    cards.first.locator(".card-title").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"))
    product_id = int(page.url.rsplit("/", 1)[1])
    product = stack.api("GET", f"/api/products/{product_id}").json()
    prices = {size["size"]: size["price"] for size in product["sizes"]}
    expect(page.get_by_role("heading", level=1)).to_have_text(product["name"])
    expect(page.get_by_text(vnd(prices["12cm"])).first).to_be_visible()
    page.screenshot(path=screenshot_dir / "product.png", full_page=True)
    add_size(page, "12cm")
    add_size(page, "20cm")

    # Change a quantity in the cart; the totals follow and include shipping.
    page.get_by_role("link", name=re.compile("Giỏ hàng")).click()
    lines = page.get_by_test_id("cart-line")
    expect(lines).to_have_count(2)
    page.get_by_label(re.compile(r"Số lượng .*12cm")).fill("2")
    page.get_by_role("button", name=re.compile(r"Cập nhật .*12cm")).click()
    expect(page.get_by_text("Đã cập nhật số lượng.")).to_be_visible()
    subtotal = prices["12cm"] * 2 + prices["20cm"]
    expect(page.get_by_test_id("subtotal")).to_have_text(vnd(subtotal))
    expect(page.get_by_test_id("shipping")).to_have_text(vnd(SHIPPING))
    expect(page.get_by_test_id("total")).to_have_text(vnd(subtotal + SHIPPING))
    page.screenshot(path=screenshot_dir / "cart.png", full_page=True)

    # Checkout: the address comes from the profile.
    page.get_by_role("link", name="Tiến hành thanh toán").click()
    expect(page.get_by_label("Địa chỉ giao hàng")).to_have_value(shopper["address"])
    page.get_by_label(re.compile("Ghi chú")).fill("Viết chữ: Chúc mừng sinh nhật")
    page.get_by_role("button", name="Đặt hàng").click()
    expect(page.get_by_text(re.compile(r"Cảm ơn bạn! Đơn hàng #\d+ đã được đặt."))).to_be_visible()
    expect(page.get_by_test_id("order-total")).to_have_text(vnd(subtotal + SHIPPING))
    page.screenshot(path=screenshot_dir / "order.png", full_page=True)
    order_id = int(re.search(r"/orders/(\d+)", page.url).group(1))

    # The order is in the history, PENDING, with the right total; the cart is empty again.
    page.get_by_role("link", name="Đơn hàng", exact=True).click()
    row = page.get_by_test_id("order-row").first
    assert row.get_attribute("data-order-id") == str(order_id)
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "PENDING")
    expect(row.get_by_test_id("order-total")).to_have_text(vnd(subtotal + SHIPPING))
    page.goto("/cart")
    expect(page.get_by_text("Giỏ hàng đang trống.")).to_be_visible()

    events = [e for e in stack.events() if e["event"] == "Checkout Started"
              and e["properties"]["cartTotal"] == subtotal + SHIPPING]
    assert events and events[-1]["properties"]["itemCount"] == 3
    assert events[-1]["service"] == "storefront" and events[-1]["sessionId"]
    completed = [e for e in stack.events() if e["event"] == "Order Completed"
                 and e["properties"]["orderId"] == order_id]
    assert completed[0]["sessionId"] == events[-1]["sessionId"]  # one visit, one session id
    assert csp_violations == []


def _orders_of(stack, email: str, password: str) -> list[dict]:
    token = stack.login(email, password)
    user_id = stack.api("POST", "/api/auth/verify", token).json()["user"]["id"]
    return stack.api("GET", f"/api/orders/user/{user_id}", token).json()["orders"]


def test_double_clicking_place_order_creates_one_order(page: Page, stack, csp_violations):
    shopper = register(page, name="Minh Trần")
    fill_cart_with_one_cake(page, stack)
    page.goto("/checkout")
    page.get_by_role("button", name="Đặt hàng").dblclick()
    expect(page.get_by_text(re.compile(r"Cảm ơn bạn! Đơn hàng #\d+"))).to_be_visible()
    assert len(_orders_of(stack, shopper["email"], shopper["password"])) == 1
    assert csp_violations == []


def test_resubmitting_the_same_checkout_form_returns_the_same_order(page: Page, stack):
    """Without JavaScript's help: the same form posted twice (a retry, a second tab)."""
    shopper = register(page, name="Hoa Lê")
    fill_cart_with_one_cake(page, stack)
    page.goto("/checkout")
    form = {field.get_attribute("name"): field.input_value()
            for field in page.locator("#checkout-form input[type=hidden]").all()}
    # Repeated fields (one per cart line) collapse in a dict; this cart has one line.
    form["shippingAddress"] = page.get_by_label("Địa chỉ giao hàng").input_value()
    first = page.request.post("/checkout", form=form)
    second = page.request.post("/checkout", form=form)
    assert first.status == second.status == 200
    assert re.search(r"/orders/\d+\?placed=1$", first.url)
    assert first.url == second.url  # both submits land on the same order
    orders = _orders_of(stack, shopper["email"], shopper["password"])
    assert len(orders) == 1
    assert first.url.endswith(f"/orders/{orders[0]['id']}?placed=1")


def test_admin_marks_an_order_processing_and_the_shopper_sees_it(browser, page: Page, stack,
                                                                   screenshot_dir, csp_violations):
    # A shopper orders (through the shop, in their own browser context).
    shopper = register(page, name="Quốc Bảo")
    fill_cart_with_one_cake(page, stack)
    page.goto("/checkout")
    page.get_by_role("button", name="Đặt hàng").click()
    expect(page.get_by_text(re.compile(r"Cảm ơn bạn!"))).to_be_visible()
    order_id = int(re.search(r"/orders/(\d+)", page.url).group(1))

    admin_context = browser.new_context(base_url=stack.url, locale="vi-VN",
                                        viewport={"width": 1280, "height": 900})
    admin = admin_context.new_page()
    try:
        log_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        admin.get_by_role("link", name="Quản trị").click()
        expect(admin.get_by_role("heading", name="Bảng điều khiển đơn hàng")).to_be_visible()
        row = admin.locator(f"[data-testid=admin-order-row][data-order-id='{order_id}']")
        expect(row.locator("[data-status]")).to_have_attribute("data-status", "PENDING")
        row.get_by_role("button", name=f"Đơn #{order_id}: chuyển sang Đang chuẩn bị").click()
        expect(admin.get_by_text(f"Đơn #{order_id}: đã chuyển sang “Đang chuẩn bị”.")).to_be_visible()
        row = admin.locator(f"[data-testid=admin-order-row][data-order-id='{order_id}']")
        expect(row.locator("[data-status]")).to_have_attribute("data-status", "PROCESSING")

        admin.get_by_role("link", name="Phân tích").click()
        for chart in ("daily", "funnel", "best-sellers", "categories"):
            expect(admin.locator(f"svg[data-chart={chart}]")).to_be_visible()
        expect(admin.locator("svg[data-chart=funnel] rect")).to_have_count(4)
        admin.screenshot(path=screenshot_dir / "admin-analytics.png", full_page=True)
        admin_nav = admin.get_by_role("navigation", name="Quản trị")
        admin_nav.get_by_role("link", name="Đơn hàng").click()
        admin.screenshot(path=screenshot_dir / "admin-orders.png", full_page=True)

        # Catalog editing: a size's price, through the product's admin page.
        admin_nav.get_by_role("link", name="Sản phẩm").click()
        admin.get_by_role("link", name="Mousse Bưởi Thanh Trà").click()
        admin.get_by_label("Giá cỡ 12cm (₫)").fill("95000")
        admin.get_by_role("button", name="Lưu cỡ 12cm").click()
        expect(admin.get_by_text("Đã lưu kích cỡ 12cm.")).to_be_visible()
        admin.screenshot(path=screenshot_dir / "admin-product.png", full_page=True)
    finally:
        admin_context.close()

    grapefruit = stack.api("GET", "/api/products", params={"q": "buoi"}).json()["items"][0]
    assert {s["size"]: s["price"] for s in grapefruit["sizes"]}["12cm"] == 95000

    page.goto(f"/orders/{order_id}")
    expect(page.locator("[data-status]").first).to_have_attribute("data-status", "PROCESSING")
    timeline = page.get_by_role("list", name="Lịch sử trạng thái")
    expect(timeline.locator("li.reached")).to_have_count(2)
    expect(timeline.locator("li.reached").nth(1)).to_contain_text("Đang chuẩn bị")
    expect(timeline.locator("li.upcoming")).to_have_text([re.compile("Đang giao"), re.compile("Đã giao")])
    assert shopper["email"]
    assert csp_violations == []


def test_admin_creates_renames_and_deletes_a_category(page: Page, stack, screenshot_dir,
                                                     csp_violations):
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.get_by_role("link", name="Quản trị").click()
    page.get_by_role("navigation", name="Quản trị").get_by_role("link", name="Danh mục").click()
    expect(page.get_by_role("heading", name="Danh mục", exact=True)).to_be_visible()

    page.get_by_role("textbox", name="Tên danh mục", exact=True).fill("Xôi Dẻo")
    page.get_by_role("button", name="Tạo danh mục").click()
    expect(page.get_by_text("Đã tạo danh mục “Xôi Dẻo”.")).to_be_visible()

    page.get_by_label("Tên danh mục Xôi Dẻo").fill("Xôi Chè")
    page.get_by_role("button", name="Đổi tên danh mục Xôi Dẻo").click()
    expect(page.get_by_text("Đã đổi tên danh mục thành “Xôi Chè”.")).to_be_visible()

    # A category that still has cakes: the catalog refuses, the page says why.
    page.on("dialog", lambda dialog: dialog.accept())  # "Xóa danh mục …? Không thể hoàn tác."
    page.get_by_role("button", name="Xóa danh mục Tiramisu").click()
    expect(page.get_by_text(re.compile(r"Không thể xóa danh mục “Tiramisu”: danh mục vẫn còn \d+ sản phẩm"))
           ).to_be_visible()
    page.screenshot(path=screenshot_dir / "admin-categories.png", full_page=True)

    page.get_by_role("button", name="Xóa danh mục Xôi Chè").click()
    expect(page.get_by_text("Đã xóa danh mục “Xôi Chè”.")).to_be_visible()
    expect(page.get_by_label("Tên danh mục Xôi Chè")).to_have_count(0)
    names = [category["name"] for category in stack.api("GET", "/api/categories").json()["items"]]
    assert "Tiramisu" in names and "Xôi Chè" not in names and "Xôi Dẻo" not in names
    assert csp_violations == []


def test_admin_saves_a_description_at_the_limit_with_line_breaks(page: Page, stack, csp_violations):
    """The textarea's maxlength counts a line break as 1 and Chromium submits CRLF (2): 2000 allowed
    characters are saved, with LF; a later rename does not send the multi-line text back."""
    category = stack.api("GET", "/api/categories").json()["items"][0]
    product = stack.api("POST", "/api/products", stack.admin_token(), json={
        "name": "Bánh Ba Dòng", "categoryId": category["id"], "sizes": [{"size": "12cm", "price": 90000}]}
    ).json()
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"/admin/products/{product['id']}")
    description = "\n".join(["a" * 666] * 3)
    page.get_by_label("Mô tả").fill(description)
    expect(page.get_by_label("Mô tả")).to_have_value(description)  # within maxlength=2000
    page.get_by_role("button", name="Lưu sản phẩm").click()
    expect(page.get_by_text("Đã lưu sản phẩm.")).to_be_visible()

    assert stack.api("GET", f"/api/products/{product['id']}").json()["description"] == description
    stack.api("PATCH", f"/api/products/{product['id']}", stack.admin_token(), json={"description": "Mới"})
    page.get_by_label("Tên sản phẩm").fill("Bánh Ba Dòng Mới")
    page.get_by_role("button", name="Lưu sản phẩm").click()
    expect(page.get_by_text("Đã lưu sản phẩm.")).to_be_visible()
    saved = stack.api("GET", f"/api/products/{product['id']}").json()
    # This page's description, unchanged here, did not overwrite the one saved meanwhile.
    assert (saved["name"], saved["description"]) == ("Bánh Ba Dòng Mới", "Mới")
    assert csp_violations == []


def test_phone_viewport_catalog_has_no_horizontal_scroll(browser, stack, screenshot_dir):
    context = browser.new_context(base_url=stack.url, viewport=PHONE, is_mobile=True,
                                  has_touch=True, device_scale_factor=2, locale="vi-VN")
    phone = context.new_page()
    try:
        phone.goto("/products")
        expect(phone.locator(".product-card").first).to_be_visible()
        assert phone.evaluate("window.innerWidth") == 390
        assert no_horizontal_scroll(phone)
        # The header's links are thumb-sized targets (44 px, WCAG 2.5.5), not their 19 px of text.
        heights = phone.eval_on_selector_all(".main-nav a", "links => links.map(l => l.offsetHeight)")
        assert heights and min(heights) >= 44, heights
        phone.screenshot(path=screenshot_dir / "phone-catalog.png")
        for path in ("/", "/products?q=mousse&sort=-price", "/products/1", "/login", "/register"):
            phone.goto(path)
            assert no_horizontal_scroll(phone), path
    finally:
        context.close()


def test_markup_in_a_product_name_never_runs(page: Page, stack):
    token = stack.admin_token()
    category = stack.api("GET", "/api/categories").json()["items"][0]
    created = stack.api("POST", "/api/products", token, json={
        "name": "<script>alert(1)</script>", "description": "<img src=x onerror=alert(2)>",
        "categoryId": category["id"], "sizes": [{"size": "16cm", "price": 120000}]}).json()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"/products/{created['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("<script>alert(1)</script>")
    expect(page.get_by_text("<img src=x onerror=alert(2)>")).to_be_visible()
    page.goto("/products?q=script")
    expect(page.locator(".card-title", has_text="<script>alert(1)</script>")).to_be_visible()
    assert dialogs == []


def test_tampered_csrf_token_is_refused_in_the_browser(page: Page, stack):
    register(page, name="Thu Hà")
    product = stack.api("GET", "/api/products").json()["items"][0]
    page.goto(f"/products/{product['id']}")
    token = page.locator("form[action='/cart/add'] input[name=csrf_token]")
    token.evaluate("field => field.value = 'forged'")
    page.get_by_role("button", name="Thêm vào giỏ").click()
    expect(page.get_by_role("heading", name="Biểu mẫu đã hết hạn hoặc không hợp lệ")).to_be_visible()
    page.goto("/cart")
    expect(page.get_by_text("Giỏ hàng đang trống.")).to_be_visible()


@contextmanager
def held_storefront_requests(stack, marker: str) -> Iterator[threading.Event]:
    """Storefront requests whose query string holds `marker` wait until the event is set: a slow
    response to a request the browser sent with the cookie it had at that moment."""
    app = stack.storefront_app
    inner, release = app.wsgi_app, threading.Event()

    def held(environ, start_response):
        if marker in environ.get("QUERY_STRING", ""):
            release.wait(10)
        return inner(environ, start_response)

    app.wsgi_app = held
    try:
        yield release
    finally:
        release.set()
        app.wsgi_app = inner


def test_a_slow_response_in_another_tab_does_not_expire_the_registration_form(page: Page, stack):
    """A response requested with an older cookie and landing late (another tab, a slow asset)
    must not roll the session back: the registration form's CSRF token has to stay valid."""
    page.goto("/")
    other_tab = page.context.new_page()
    other_tab.goto("/")
    with held_storefront_requests(stack, "slow-tab") as release:
        other_tab.evaluate("() => { window.slow = fetch('/products?slow-tab=1'); }")
        page.get_by_role("link", name="Đăng ký").click()
        page.get_by_label("Họ và tên").fill("Tab Chậm")
        page.get_by_label("Email").fill(f"tab-{uuid.uuid4().hex[:8]}@example.com")
        page.get_by_label("Mật khẩu").fill("banhngot-2024")
        release.set()
        assert other_tab.evaluate("() => window.slow.then(response => response.status)") == 200
    page.get_by_role("button", name="Đăng ký").click()
    expect(page.get_by_text("Chào mừng Tab Chậm")).to_be_visible()
