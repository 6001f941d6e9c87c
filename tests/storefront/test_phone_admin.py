"""The admin pages on a 390 × 844 phone (Playwright driving Debian's Chromium): computed layout,
not pixels."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.shop import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import new_shopper_with_an_order

PHONE = {"width": 390, "height": 844}

# Words of the element's visible text drawn on more than one line (a word broken mid-way).
BROKEN_WORDS = """root => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""
# Height of an element's text (not of its cell, which takes the row's height).
TEXT_HEIGHT = """cell => { const range = document.createRange(); range.selectNodeContents(cell);
  return range.getBoundingClientRect().height; }"""


@pytest.fixture
def phone(browser, stack):
    context = browser.new_context(base_url=stack.url, viewport=PHONE, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="vi-VN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in_as_admin(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Mật khẩu").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_text("Đăng nhập thành công.")).to_be_visible()


def page_scrolls_sideways(page: Page) -> bool:
    # A mobile browser widens its layout viewport (innerWidth) to fit what overflows: compare to 390.
    return page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]


@pytest.fixture
def an_order(stack) -> dict:
    return new_shopper_with_an_order(stack, "Điện Thoại", "1 Lý Thái Tổ")["order"]


def test_admin_tables_keep_whole_words_on_a_phone_and_scroll_in_their_wrap(phone: Page, an_order):
    sign_in_as_admin(phone)
    for path in ("/admin/orders", "/admin/products", "/admin/categories", "/admin/customers"):
        phone.goto(path)
        table = phone.locator(".table-wrap table").first
        expect(table).to_be_visible()
        assert table.evaluate(BROKEN_WORDS) == [], path
        assert not page_scrolls_sideways(phone), path  # the wrap scrolls, not the page
        button_heights = table.locator(".btn").evaluate_all("buttons => buttons.map(b => b.offsetHeight)")
        assert all(height <= 48 for height in button_heights), (path, button_heights)

    phone.goto("/admin/orders")
    wrap = phone.locator(".table-wrap").first
    assert wrap.evaluate("wrap => wrap.scrollWidth > wrap.clientWidth")
    row = phone.locator(f"[data-testid=admin-order-row][data-order-id='{an_order['id']}']")
    date = row.locator("td").nth(2)
    line_height = date.evaluate("cell => parseFloat(getComputedStyle(cell).lineHeight)")
    assert date.evaluate(TEXT_HEIGHT) <= 2 * line_height + 1

    phone.goto("/admin/customers")
    widths = phone.locator(".table-wrap select").evaluate_all("selects => selects.map(s => s.offsetWidth)")
    assert widths and min(widths) >= 90, widths  # the role reads whole, not "CUSTO"


def test_deleting_a_size_asks_first_and_sits_apart_from_save(phone: Page, stack):
    category = stack.api("GET", "/api/categories").json()["items"][0]
    product = stack.api("POST", "/api/products", stack.admin_token(), json={
        "name": "Bánh Hai Cỡ", "categoryId": category["id"],
        "sizes": [{"size": "12cm", "price": 90000}, {"size": "16cm", "price": 120000}]}).json()
    questions: list[str] = []
    sign_in_as_admin(phone)
    phone.goto(f"/admin/products/{product['id']}")

    save = phone.get_by_role("button", name="Lưu cỡ 12cm").bounding_box()
    delete = phone.get_by_role("button", name="Xóa cỡ 12cm").bounding_box()
    assert delete["y"] - (save["y"] + save["height"]) >= 24  # not a slip of the thumb away
    assert delete["height"] >= 36

    phone.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    phone.get_by_role("button", name="Xóa cỡ 12cm").click()
    expect(phone.get_by_role("button", name="Xóa cỡ 12cm")).to_be_visible()
    assert questions == ["Xóa cỡ 12cm của Bánh Hai Cỡ? Không thể hoàn tác."]
    sizes = stack.api("GET", f"/api/products/{product['id']}").json()["sizes"]
    assert [size["size"] for size in sizes] == ["12cm", "16cm"]

    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Xóa cỡ 12cm").click()
    expect(phone.get_by_text("Đã xóa kích cỡ 12cm.")).to_be_visible()
    sizes = stack.api("GET", f"/api/products/{product['id']}").json()["sizes"]
    assert [size["size"] for size in sizes] == ["16cm"]


def test_a_declined_confirmation_leaves_a_submit_once_form_usable(phone: Page, stack):
    """data-confirm and data-submit-once on one form: declining must not disable its button."""
    sign_in_as_admin(phone)
    phone.goto("/admin/categories")
    form = phone.locator("form[data-submit-once]").first
    form.evaluate("form => form.setAttribute('data-confirm', 'Chắc chưa?')")
    phone.once("dialog", lambda dialog: dialog.dismiss())
    form.get_by_role("button").click()
    expect(form.get_by_role("button")).to_be_enabled()
    assert form.evaluate("form => form.dataset.submitted") is None


def test_deleting_a_category_asks_first(phone: Page, stack):
    token = stack.admin_token()
    created = stack.api("POST", "/api/categories", token, json={"name": "Chè Thử"}).json()
    sign_in_as_admin(phone)
    phone.goto("/admin/categories")
    phone.once("dialog", lambda dialog: dialog.dismiss())
    phone.get_by_role("button", name="Xóa danh mục Chè Thử").click()
    expect(phone.get_by_label("Tên danh mục Chè Thử")).to_be_visible()
    assert any(c["id"] == created["id"] for c in stack.api("GET", "/api/categories").json()["items"])


def test_chart_text_stays_readable_on_a_phone(phone: Page, an_order):
    sign_in_as_admin(phone)
    phone.goto("/admin/analytics")
    expect(phone.locator("svg[data-chart=daily]")).to_be_visible()
    # Drawn size: the font size in viewBox units times the SVG's scale on screen.
    sizes = phone.locator("svg[data-chart] text").evaluate_all(
        "texts => texts.map(t => t.ownerSVGElement.getScreenCTM().a"
        " * parseFloat(getComputedStyle(t).fontSize))")
    assert sizes and min(sizes) >= 11, min(sizes)
    assert not page_scrolls_sideways(phone)  # the chart scrolls in its figure, not the page
    scroller = phone.locator(".chart-scroll").first
    assert scroller.evaluate("box => box.scrollWidth > box.clientWidth")


def test_the_header_sign_up_button_keeps_its_padding_on_a_phone(phone: Page):
    phone.goto("/")
    button = phone.get_by_role("navigation").get_by_role("link", name="Đăng ký")
    padding = button.evaluate("b => [getComputedStyle(b).paddingLeft, getComputedStyle(b).paddingRight]")
    assert all(float(side.removesuffix("px")) >= 12 for side in padding), padding
    assert button.evaluate("b => b.offsetHeight") >= 44


def test_the_order_filter_dates_are_as_tall_as_the_other_fields(phone: Page):
    sign_in_as_admin(phone)
    phone.goto("/admin/orders")
    heights = phone.locator("input[type=date]").evaluate_all("inputs => inputs.map(i => i.offsetHeight)")
    assert len(heights) == 2 and min(heights) >= 44, heights


def test_cancelling_an_order_asks_first_for_the_shopper_and_the_admin(phone: Page, stack, an_order):
    question = f"Hủy đơn #{an_order['id']}? Không thể hoàn tác."
    shopper = stack.register(name="Hủy Thử")
    line = an_order["items"][0]
    own = stack.api("POST", "/api/orders", shopper["token"], json={
        "items": [{"productId": line["productId"], "size": line["size"], "quantity": 1}],
        "shippingAddress": "2 Lý Thái Tổ"}).json()
    phone.goto("/login")
    phone.get_by_label("Email").fill(shopper["email"])
    phone.get_by_label("Mật khẩu").fill(shopper["password"])
    phone.get_by_role("button", name="Đăng nhập").click()
    phone.goto(f"/orders/{own['id']}")
    asked: list[str] = []
    phone.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    phone.get_by_role("button", name="Hủy đơn").click()
    expect(phone.get_by_role("button", name="Hủy đơn")).to_be_enabled()
    assert asked == [f"Hủy đơn #{own['id']}? Không thể hoàn tác."]
    assert stack.api("GET", f"/api/orders/{own['id']}", shopper["token"]).json()["status"] == "PENDING"

    phone.context.clear_cookies()
    sign_in_as_admin(phone)
    phone.goto(f"/admin/orders/{an_order['id']}")
    phone.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    phone.get_by_role("button", name=f"Đơn #{an_order['id']}: Hủy đơn").click()
    assert asked[-1] == question
    admin_view = f"/api/orders/{an_order['id']}"
    assert stack.api("GET", admin_view, stack.admin_token()).json()["status"] == "PENDING"
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name=f"Đơn #{an_order['id']}: Hủy đơn").click()
    expect(phone.get_by_role("button", name=f"Đơn #{an_order['id']}: Hủy đơn")).to_have_count(0)
    assert stack.api("GET", admin_view, stack.admin_token()).json()["status"] == "CANCELLED"
