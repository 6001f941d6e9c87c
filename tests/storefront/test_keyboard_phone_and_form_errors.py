"""QA findings in Chromium (Playwright, Debian's Chromium) and over HTTP: keyboard use of the
auto-applied filters, checkout and touch targets on a phone, enlarged text, refused forms
announced, and every field's error on one submit of the new-product form."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.shop import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import Browserless, field_error, new_shopper_with_an_order
from .test_browser import add_size, log_in, without_script_with_a_tiramisu

SMALL_PHONE = {"width": 375, "height": 667}
THUMB = 44  # px, WCAG 2.5.5


def phone_context(browser, stack, viewport=SMALL_PHONE, **options):
    context = browser.new_context(base_url=stack.url, viewport=viewport, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="vi-VN", **options)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def phone(browser, stack):
    context = phone_context(browser, stack)
    yield context.new_page()
    context.close()


@pytest.fixture
def shopper_with_an_order(stack) -> dict:
    return new_shopper_with_an_order(stack, "Ngón Tay", "3 Lý Thái Tổ")


def box(page: Page, locator) -> dict:
    found = locator.bounding_box()
    assert found, f"{locator} is not drawn"
    return found


# ---- 1. filter drop-downs and the keyboard --------------------------------------------------

def test_arrow_keys_in_a_filter_select_do_not_submit_the_form(page: Page):
    page.goto("/products")
    sort = page.locator("#filter-sort")
    first = sort.input_value()
    page.evaluate("window.stillThisPage = true")  # gone if the page reloads
    sort.focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(400)
    assert page.evaluate("window.stillThisPage === true"), "the form was submitted"
    assert "sort=" not in page.url
    expect(sort).to_be_focused()
    chosen = sort.input_value()
    assert chosen != first
    page.keyboard.press("ArrowDown")  # the keyboard user moves on through the options
    expect(sort).to_be_focused()

    # The visible button applies it.
    sort.select_option(chosen)  # back to the option to apply, still without leaving this page
    page.get_by_role("button", name="Áp dụng").click()
    expect(page).to_have_url(re.compile(rf"sort={re.escape(chosen)}"))


def _pick_with_a_pointer_then_focus_returns(page: Page, name: str) -> None:
    select = page.locator(f"#filter-{name}")
    chosen = select.locator("option").nth(1).get_attribute("value")
    select.dispatch_event("pointerdown")
    select.select_option(chosen)
    expect(page).to_have_url(re.compile(rf"{name}={re.escape(chosen)}"))
    expect(page.locator(f"#filter-{name}")).to_be_focused()


def test_a_pointer_pick_applies_at_once_and_focus_returns_to_that_select(page: Page, browser, stack):
    page.goto("/products")
    _pick_with_a_pointer_then_focus_returns(page, "category")

    # On a phone the filters start folded: they are unfolded again to give the select its focus.
    context = phone_context(browser, stack)
    try:
        phone = context.new_page()
        phone.goto("/products")
        phone.get_by_text("Bộ lọc và sắp xếp").click()
        _pick_with_a_pointer_then_focus_returns(phone, "sort")
    finally:
        context.close()


def test_every_auto_applied_filter_form_has_a_submit_button(stack):
    """Without JavaScript (and for keyboard users) the button is how a filter gets applied."""
    client = Browserless(stack.url)
    client.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    for path in ("/products", "/admin/orders", "/admin/analytics"):
        html = client.get(path).text
        forms = re.findall(r"<form[^>]*data-autosubmit[^>]*>(.*?)</form>", html, re.S)
        assert forms, path
        for form in forms:
            assert re.search(r'<button type="submit"[^>]*>[^<]+</button>', form), path


# ---- 2. checkout on a phone -----------------------------------------------------------------

def test_checkout_on_a_phone_says_the_total_before_the_place_order_button(phone: Page, stack):
    shopper = stack.register(name="Màn Nhỏ")
    log_in(phone, shopper["email"], shopper["password"])
    product = stack.api("GET", "/api/products", params={"q": "tiramisu"}).json()["items"][0]
    phone.goto(f"/products/{product['id']}")
    add_size(phone, product["sizes"][0]["size"])
    phone.goto("/checkout")
    total = phone.get_by_test_id("total").inner_text()
    place = box(phone, phone.get_by_role("button", name="Đặt hàng"))
    # The first place the amount is shown is above the button.
    said = box(phone, phone.locator("main").get_by_text(total).first)
    assert said["y"] + said["height"] <= place["y"], (said, place)
    assert place["y"] - said["y"] < SMALL_PHONE["height"]  # on the same screen as the button


# ---- 3. touch targets on a phone ------------------------------------------------------------

def test_shop_controls_are_thumb_sized_on_a_phone(phone: Page, stack, shopper_with_an_order):
    shopper = shopper_with_an_order
    log_in(phone, shopper["email"], shopper["password"])
    expect(phone.locator(".brand")).to_have_count(1)
    assert box(phone, phone.locator(".brand"))["height"] >= THUMB

    phone.goto(f"/products/{shopper['product']['id']}")
    for link in phone.get_by_role("navigation", name="Đường dẫn").get_by_role("link").all():
        assert box(phone, link)["height"] >= THUMB
    add_size(phone, shopper["product"]["sizes"][0]["size"])

    phone.goto("/cart")
    update = box(phone, phone.get_by_role("button", name=re.compile("^Cập nhật")))
    remove = box(phone, phone.get_by_role("button", name=re.compile("^Xóa")))
    assert update["height"] >= THUMB and remove["height"] >= THUMB
    same_row = abs(update["y"] - remove["y"]) < THUMB
    apart = remove["x"] - (update["x"] + update["width"]) if same_row else remove["y"] - (
        update["y"] + update["height"])
    assert apart >= 24, (update, remove)

    phone.goto("/products")
    summary = phone.get_by_text("Bộ lọc và sắp xếp")
    assert box(phone, summary)["height"] >= THUMB
    summary.click()
    assert box(phone, phone.get_by_role("button", name="Áp dụng"))["height"] >= THUMB
    assert box(phone, phone.get_by_role("link", name="Xóa bộ lọc"))["height"] >= THUMB

    order_id = shopper["order"]["id"]
    phone.goto("/orders")
    link = phone.get_by_role("link", name=f"Đơn #{order_id}")
    assert box(phone, link)["height"] >= THUMB
    # The whole card opens the order, its total included.
    card = phone.locator(f"[data-testid=order-row][data-order-id='{order_id}']")
    total = box(phone, card.get_by_test_id("order-total"))
    phone.touchscreen.tap(total["x"] + total["width"] / 2, total["y"] + total["height"] / 2)
    expect(phone).to_have_url(re.compile(rf"/orders/{order_id}$"))
    assert box(phone, phone.get_by_role("button", name="Hủy đơn"))["height"] >= THUMB


def test_admin_links_in_tables_are_thumb_sized_on_a_phone(phone: Page, stack, shopper_with_an_order):
    log_in(phone, ADMIN_EMAIL, ADMIN_PASSWORD)
    order_id = shopper_with_an_order["order"]["id"]
    phone.goto("/admin/orders")
    link = box(phone, phone.get_by_role("link", name=f"#{order_id}", exact=True))
    assert link["height"] >= THUMB and link["width"] >= THUMB, link
    phone.goto("/admin/categories")
    delete = phone.get_by_role("button", name=re.compile("^Xóa danh mục")).first
    assert box(phone, delete)["height"] >= THUMB


def test_desktop_keeps_its_compact_small_buttons(page: Page):
    page.goto("/products")
    assert box(page, page.get_by_role("button", name="Áp dụng"))["height"] < THUMB


# ---- 4. a refused form is announced ---------------------------------------------------------

def test_refused_forms_title_the_page_as_an_error(stack):
    shopper = stack.register(name="Sai Sót")
    client = Browserless(stack.url)
    title = re.compile(r"<title>([^<]*)</title>")
    assert not title.search(client.get("/login").text).group(1).startswith("Lỗi")
    refused = {
        "register": client.form_post("/register", "/register", {"name": "", "email": "x", "password": "1"}),
        "login": client.form_post("/login", "/login",
                                  {"email": shopper["email"], "password": "sai-mat-khau"}),
    }
    client.login(shopper["email"], shopper["password"])
    refused["profile"] = client.form_post("/account", "/account", {"name": ""})
    refused["password"] = client.form_post("/account/password", "/account/password", {
        "currentPassword": "sai-mat-khau", "newPassword": "mat-khau-moi-1"})
    for form, response in refused.items():
        assert response.status_code >= 400, (form, response.status_code)
        assert title.search(response.text).group(1).startswith("Lỗi: "), form
        assert 'tabindex="-1" autofocus data-form-error>' in response.text, form


def test_a_refused_checkout_focuses_its_error_summary_without_javascript(browser, stack):
    with without_script_with_a_tiramisu(browser, stack, "Không Script") as (page, _product):
        page.goto("/checkout")
        page.get_by_label("Địa chỉ giao hàng").fill("")
        page.get_by_role("button", name="Đặt hàng").click()
        summary = page.get_by_role("alert")
        expect(summary).to_be_focused()
        expect(page).to_have_title(re.compile(r"^Lỗi: Thanh toán"))


# ---- 5. the new-product form shows every error at once --------------------------------------

def test_a_new_product_with_every_field_empty_shows_every_error_at_once(admin, stack):
    category = stack.api("GET", "/api/categories").json()["items"][0]
    response = admin.form_post("/admin/products/new", "/admin/products/new", {
        "name": "", "categoryId": category["id"], "size": "", "price": ""})
    assert response.status_code == 422
    assert field_error(response.text, "f-name") == "Vui lòng nhập thông tin này."
    assert field_error(response.text, "f-size") == "Vui lòng nhập thông tin này."
    assert field_error(response.text, "f-price") == "Vui lòng nhập thông tin này."

    # A price refused here, the rest fine: nothing is created.
    refused = admin.form_post("/admin/products/new", "/admin/products/new", {
        "name": "Bánh Giá Sai", "categoryId": category["id"], "size": "12cm", "price": "25.5"})
    assert refused.status_code == 422
    assert field_error(refused.text, "f-name") is None and field_error(refused.text, "f-price")
    found = stack.api("GET", "/api/products", stack.admin_token(),
                      params={"q": "gia sai", "includeInactive": "true"}).json()
    assert found["total"] == 0


# ---- 6. enlarged text on a small phone ------------------------------------------------------

@pytest.mark.parametrize(("path", "text_size"), [("/", "150%"), ("/", "200%"), ("/products", "200%"),
                                                 ("/products/1", "200%")])
def test_enlarged_text_does_not_widen_a_small_phone_page(browser, stack, path, text_size):
    context = phone_context(browser, stack, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.goto(path)
        page.evaluate(f"document.documentElement.style.fontSize = '{text_size}'")
        # A mobile browser widens its layout viewport to fit what overflows: compare to 360.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()
