"""What pages call things: the catalog's heading and title, admin roles and dates in Vietnamese."""

from __future__ import annotations

import re

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
