"""The admin analytics charts read without seeing them (Playwright driving Debian's Chromium): the
figures inside an SVG image are presentational to a screen reader, so every chart has a data table
with a caption holding the chart's own figures, and each chart's name is said once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.shop import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import Browserless, new_shopper_with_an_order
from .test_browser import log_in

# A table row written the way the chart draws it: the bars' and columns' tooltips, the funnel's labels.
AS_DRAWN = {
    "daily": lambda day, orders, revenue: f"{day}: {orders} đơn, {revenue}",
    "best-sellers": lambda name, amount: f"{name}: {amount}",
    "categories": lambda name, amount: f"{name}: {amount}",
    "funnel": lambda step, sessions, share: f"{step}: {sessions}" + ("" if share == "—" else f" ({share})"),
}
DRAWN_FIGURES = {
    "daily": "rect > title", "best-sellers": "rect > title", "categories": "rect > title", "funnel": "text",
}


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


def test_every_chart_has_a_captioned_table_of_its_own_figures(analytics: Page, sales: dict):
    shown = charts(analytics)
    assert set(shown) == set(AS_DRAWN)
    for chart_id, figure in shown.items():
        title = figure.locator("figcaption").inner_text()
        table = open_table(figure)
        expect(table).to_have_accessible_name(f"Bảng số liệu: {title}")
        rows = table.locator("tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(cell => cell.textContent.trim()))")
        assert rows, chart_id
        expect(table.locator("thead th[scope=col]")).to_have_count(len(rows[0]))
        drawn = figure.locator(f"svg {DRAWN_FIGURES[chart_id]}").all_text_contents()
        if chart_id == "daily":  # a day without orders draws an empty column, and has no row
            drawn = [text for text in drawn if ": 0 đơn," not in text]
        assert [AS_DRAWN[chart_id](*row) for row in rows] == drawn, chart_id
        if chart_id == "best-sellers":
            assert sales["product"]["name"] in [name for name, _ in rows]



def test_each_chart_is_named_once_and_a_wide_one_still_scrolls_from_the_keyboard(analytics: Page):
    for chart_id, figure in charts(analytics).items():
        title = figure.locator("figcaption").inner_text()
        expect(figure).to_have_accessible_name(title)
        # The image says what it shows, not the title again; no scroller names it a third time.
        expect(figure.get_by_role("img")).to_have_accessible_name(figure.locator("svg desc").text_content())
        names = re.findall(r'^\s*- \'?[a-z]+ "(.*?)"', figure.aria_snapshot(), re.M)
        assert names.count(title) == 1, (chart_id, names)
    analytics.set_viewport_size({"width": 390, "height": 844})  # the daily chart is wider than this
    scroller = analytics.locator(".chart-scroll").first
    expect(scroller).to_have_attribute("tabindex", "0")  # reached by Tab
    scroller.focus()
    analytics.keyboard.press("ArrowRight")
    analytics.wait_for_function("scroller => scroller.scrollLeft > 0", arg=scroller.element_handle())


def test_a_chart_with_nothing_to_scroll_is_no_tab_stop(analytics: Page):
    """On a wide screen every chart fits: its scroller is not focusable (a keyboard user would land
    on an empty stop per chart); on a phone it is again (the test above)."""
    analytics.set_viewport_size({"width": 1280, "height": 900})
    scrollers = analytics.locator(".chart-scroll")
    assert scrollers.count() > 0
    for index in range(scrollers.count()):
        expect(scrollers.nth(index)).not_to_have_attribute("tabindex", "0")
