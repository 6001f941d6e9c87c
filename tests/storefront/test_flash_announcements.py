"""QA findings in Chromium (Playwright): messages shown after a redirect are announced (errors take
focus and title the page, the others reach a polite live region as a change), the header's cart
count has a name a screen reader reads, and the checkout table has a caption."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .test_browser import fill_cart_with_one_cake, log_in, without_script_with_a_tiramisu

# Runs before the page's own script: what the polite live region held when the document was parsed.
RECORD_LIVE_REGION_AT_LOAD = """
document.addEventListener("DOMContentLoaded", () => {
  const regions = document.querySelectorAll('[role=status], [aria-live=polite]');
  window.liveRegionsAtLoad = Array.from(regions, (region) => region.textContent.trim());
});
"""


@pytest.fixture
def shopper_page(page: Page, stack) -> Page:
    shopper = stack.register(name="Nghe Đọc")
    log_in(page, shopper["email"], shopper["password"])
    return page


def test_an_added_cake_is_announced_as_a_change_to_a_polite_live_region(shopper_page: Page, stack):
    page = shopper_page
    page.add_init_script(RECORD_LIVE_REGION_AT_LOAD)
    product = fill_cart_with_one_cake(page, stack)
    size = product["sizes"][0]["size"]
    said = f"Đã thêm 1 × {product['name']} ({size}) vào giỏ hàng."
    # Present at load, content is not announced: the region is empty then and the message comes after.
    assert page.evaluate("window.liveRegionsAtLoad") == [""]
    status = page.get_by_role("status")
    expect(status).to_have_text(said)
    expect(status).to_have_attribute("aria-live", "polite")
    expect(page.get_by_text(said)).to_have_count(1)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page).to_have_title(re.compile(r"^(?!Lỗi)"))


def _refuse_quantity(page: Page, quantity: str) -> None:
    """Submit a quantity the cart refuses; the browser's own check (min, max) is what is bypassed."""
    form = page.locator("form.inline-form").first
    form.evaluate("form => { form.noValidate = true; }")
    form.get_by_label(re.compile("^Số lượng")).fill(quantity)
    form.get_by_role("button", name=re.compile("^Cập nhật")).click()


@pytest.mark.parametrize("quantity", ["0", "100"])
def test_a_refused_cart_update_takes_focus_titles_the_page_and_names_the_cake(shopper_page: Page, stack,
                                                                             quantity):
    page = shopper_page
    product = fill_cart_with_one_cake(page, stack)
    size = product["sizes"][0]["size"]
    page.goto("/cart")
    _refuse_quantity(page, quantity)
    alert = page.get_by_role("alert")
    expect(alert).to_be_focused()
    expect(alert).to_have_text(f"Số lượng {product['name']} ({size}) phải từ 1 đến 99.")
    expect(page).to_have_title(re.compile(r"^Lỗi: Giỏ hàng"))
    # An error is not also said politely.
    expect(page.get_by_role("status")).to_have_count(0)


def test_a_refused_cart_update_takes_focus_without_javascript(browser, stack):
    """autofocus in the markup: no script of the page is needed for the error to take focus."""
    with without_script_with_a_tiramisu(browser, stack, "Không Script") as (page, product):
        # Without a script, a success message stays where the server put it.
        expect(page.get_by_text(re.compile(rf"^Đã thêm 1 × {re.escape(product['name'])} "))).to_be_visible()
        page.goto("/cart")
        _refuse_quantity(page, "0")
        alert = page.get_by_role("alert")
        expect(alert).to_be_focused()
        expect(alert).to_contain_text(product["name"])
        expect(page).to_have_title(re.compile(r"^Lỗi: Giỏ hàng"))


def test_the_cart_count_is_read_as_the_number_of_items(shopper_page: Page, stack):
    page = shopper_page
    fill_cart_with_one_cake(page, stack)
    nav = page.get_by_role("navigation", name="Điều hướng chính")
    cart_link = nav.get_by_role("link", name="Giỏ hàng 1 sản phẩm", exact=True)
    expect(cart_link).to_be_visible()
    expect(cart_link).to_have_accessible_name("Giỏ hàng 1 sản phẩm")
    # The visible number is drawn but not read twice; no aria-label on a generic span (ARIA 1.2).
    badge = cart_link.locator(".badge")
    expect(badge).to_have_text("1")
    expect(badge).to_be_visible()
    expect(badge).to_have_attribute("aria-hidden", "true")
    assert badge.get_attribute("aria-label") is None
    assert 'link "Giỏ hàng 1 sản phẩm"' in nav.aria_snapshot()


def test_the_checkout_table_has_a_caption(shopper_page: Page, stack):
    page = shopper_page
    product = fill_cart_with_one_cake(page, stack)
    page.goto("/checkout")
    table = page.get_by_role("table", name="Sản phẩm trong đơn của bạn")
    expect(table).to_be_visible()
    expect(table.get_by_role("cell", name=re.compile(re.escape(product["name"])))).to_be_visible()
