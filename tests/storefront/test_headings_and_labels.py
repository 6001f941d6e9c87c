"""What pages call things: the catalog's heading and title, admin roles and dates in Vietnamese."""

from __future__ import annotations

import re
from datetime import datetime

from services.storefront.formatting import VIETNAM

from .helpers import Browserless


def _heading_and_title(html: str) -> tuple[str, str]:
    return (re.search(r"<h1>(.*?)</h1>", html, re.S).group(1),
            re.search(r"<title>(.*?)</title>", html, re.S).group(1))


def test_the_catalog_names_the_category_being_browsed(stack):
    shopper = Browserless(stack.url)
    category = next(c for c in stack.api("GET", "/api/categories").json()["items"]
                    if c["slug"] == "banh-kem")
    for value in ("banh-kem", str(category["id"])):
        page = shopper.get("/products", params={"category": value})
        assert page.status_code == 200
        assert _heading_and_title(page.text) == ("Bánh Kem", "Bánh Kem · SweetDream"), value

    searched = shopper.get("/products", params={"q": "dâu", "category": "banh-kem"}).text
    assert _heading_and_title(searched) == ("Kết quả cho “dâu” trong Bánh Kem",
                                            "Tìm “dâu” · Bánh Kem · SweetDream")
    assert _heading_and_title(shopper.get("/products", params={"q": "dâu"}).text) == (
        "Kết quả cho “dâu”", "Tìm “dâu” · SweetDream")
    assert _heading_and_title(shopper.get("/products").text) == ("Tất cả bánh", "Sản phẩm · SweetDream")


def test_admin_roles_read_in_vietnamese_and_post_their_codes(admin):
    html = admin.get("/admin/customers").text
    options = re.findall(r'<option value="(\w+)"[^>]*>([^<]*)</option>', html)
    assert ("CUSTOMER", "Khách hàng") in options and ("ADMIN", "Quản trị viên") in options
    assert ">ADMIN<" not in html and ">CUSTOMER<" not in html


def test_analytics_dates_read_day_month_year(stack, admin):
    shopper = stack.register(name="Ngày Tháng")
    product = stack.api("GET", "/api/products").json()["items"][0]
    assert stack.api("POST", "/api/orders", shopper["token"], json={
        "items": [{"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1}],
        "shippingAddress": "3 Đồng Khởi"}).status_code == 201
    html = admin.get("/admin/analytics", params={"days": 7}).text
    assert re.search(r"Từ \d\d/\d\d/\d{4} đến \d\d/\d\d/\d{4} \(giờ Việt Nam\)", html)
    assert f"đến {datetime.now(VIETNAM):%d/%m/%Y} (giờ Việt Nam)" in html  # not a day off
    assert re.search(r"<tr><td>\d\d/\d\d/\d{4}</td>", html)  # the data table under the chart
    assert not re.search(r"\d{4}-\d\d-\d\d", html.split("<main", 1)[1])
