"""QA findings in Chromium (Playwright, accessible names and focus) on the admin pages: a refused
category rename is announced and leads to its box; each size's boxes on the product editor name
their size; an order's status comes before the buttons that change it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.shop import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import new_shopper_with_an_order
from .test_browser import log_in

REQUIRED = "Vui lòng nhập thông tin này."


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement.id")


@pytest.mark.parametrize(("typed", "reason"), [
    ("Tiramisu", "Đã có danh mục tên “Tiramisu”"),
    ("", REQUIRED),
])
def test_a_refused_category_rename_is_announced_and_leads_to_its_box(page: Page, stack, typed, reason):
    category = next(category for category in stack.api("GET", "/api/categories").json()["items"]
                    if category["name"] == "Bánh Kem")
    box = f"category-{category['id']}"
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/admin/categories")
    name_box = page.get_by_role("textbox", name="Tên danh mục Bánh Kem", exact=True)
    name_box.fill(typed)
    name_box.press("Enter")

    expect(page).to_have_url(re.compile(rf"/admin/categories/{category['id']}$"))
    expect(page).to_have_title(re.compile(r"^Lỗi: Quản trị · Danh mục"))
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Không đổi được tên danh mục “Bánh Kem”")
    expect(summary).to_contain_text(reason)
    # Not under "Danh mục mới": that form was not the one refused.
    expect(page.get_by_role("region", name="Danh mục mới").get_by_role("alert")).to_have_count(0)

    # The summary's link takes the keyboard to the box, which still holds what was typed.
    page.keyboard.press("Tab")
    link = summary.get_by_role("link")
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    assert focused_id(page) == box
    expect(page.locator(f"#{box}")).to_have_value(typed)
    expect(page.locator(f"#{box}")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{box}")).to_have_accessible_description(re.compile(re.escape(reason)))
    names = [category["name"] for category in stack.api("GET", "/api/categories").json()["items"]]
    assert "Bánh Kem" in names


def test_each_size_box_on_the_product_editor_names_its_size(page: Page, stack):
    product = stack.api("GET", "/api/products/1").json()
    sizes = [size["size"] for size in product["sizes"]]
    assert len(sizes) > 1
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"/admin/products/{product['id']}")
    section = page.get_by_role("region", name="Kích cỡ và giá")

    names = [*(name for size in sizes for name in (f"Kích cỡ (đang là {size})", f"Giá cỡ {size} (₫)")),
             "Kích cỡ mới", "Giá cỡ mới (₫)"]
    for name in names:
        expect(section.get_by_role("textbox", name=name, exact=True)).to_have_count(1)
    expect(section.get_by_role("textbox")).to_have_count(len(names))  # no box left with a shared name

    # Tabbing from a size's box to its price says which size that price is for.
    middle = sizes[1]
    section.get_by_role("textbox", name=f"Kích cỡ (đang là {middle})").focus()
    page.keyboard.press("Tab")
    expect(section.get_by_role("textbox", name=f"Giá cỡ {middle} (₫)")).to_be_focused()


def test_an_orders_status_comes_before_the_buttons_that_change_it(page: Page, stack):
    order_id = new_shopper_with_an_order(stack, "Thứ Tự", "9 Hàng Bài")["order"]["id"]
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"/admin/orders/{order_id}")
    # What a screen reader meets in reading order: the status, then the buttons.
    lines = page.get_by_role("main").aria_snapshot().splitlines()
    status = next(i for i, line in enumerate(lines) if "Trạng thái: Chờ xác nhận" in line)
    for button in (f"Đơn #{order_id}: chuyển sang Đang chuẩn bị", f"Đơn #{order_id}: Hủy đơn"):
        expect(page.get_by_role("button", name=button)).to_be_visible()
        assert status < next(i for i, line in enumerate(lines) if f'button "{button}"' in line), button
