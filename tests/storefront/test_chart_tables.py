"""The admin analytics charts read without seeing them (Playwright driving Debian's Chromium): the
figures inside an SVG image are presentational to a screen reader, so every chart has a data table
with a caption holding the chart's own figures, and each chart's name is said once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.shop import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import Browserless, new_shopper_with_an_order
from .test_browser import log_in


@pytest.fixture(scope="module")
def sales(stack) -> dict:
    """An order (the daily, best-seller and category charts) and a product view (the funnel)."""
    order = new_shopper_with_an_order(stack, "Bảng Số Liệu", "5 Lê Lợi")
    assert Browserless(stack.url).get(f"/products/{order['product']['id']}").status_code == 200
    return order


@pytest.fixture
def analytics(page: Page, sales) -> Page:
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/admin/analytics?days=7")
    return page


def charts(page: Page) -> dict[str, Locator]:
    figures = page.locator("figure.chart:has(svg[data-chart])")
    expect(figures).to_have_count(4)
    return {figure.locator("svg").get_attribute("data-chart"): figure for figure in figures.all()}


def open_table(figure: Locator) -> Locator:
    figure.get_by_text("Xem số liệu").click()
    return figure.get_by_role("table")


def test_the_daily_table_has_a_caption(analytics: Page):
    table = open_table(charts(analytics)["daily"])
    expect(table.locator("caption")).to_have_text("Bảng số liệu: Đơn hàng và doanh thu theo ngày")
    expect(table).to_have_accessible_name("Bảng số liệu: Đơn hàng và doanh thu theo ngày")

