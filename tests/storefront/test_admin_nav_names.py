"""On admin pages each link name leads to one place, and one link at most is the current page: the
site's "Đơn hàng"/"Sản phẩm" and the admin menu's are told apart, and "Quản trị" marks the section."""

from __future__ import annotations

from collections import defaultdict
from html.parser import HTMLParser

import pytest


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open = {**dict(attrs), "text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self._open["text"] = " ".join(self._open["text"].split())
            self.links.append(self._open)
            self._open = None


def _links(html: str) -> list[dict]:
    reader = _Links()
    reader.feed(html)
    return reader.links


@pytest.mark.parametrize("path", ["/admin/orders", "/admin/products", "/admin/customers", "/admin/analytics"])
def test_admin_link_names_are_unique_and_one_link_is_the_page(admin, path):
    page = admin.get(path)
    assert page.status_code == 200
    links = _links(page.text)
    places = defaultdict(set)
    for link in links:
        places[link["text"]].add(link["href"].split("?")[0])
    assert {name: hrefs for name, hrefs in places.items() if len(hrefs) > 1} == {}
    current = [(link["text"], link["href"]) for link in links if link.get("aria-current") == "page"]
    assert len(current) == 1 and current[0][1] == path
    [section] = [link for link in links if link["text"] == "Quản trị"]
    assert section["aria-current"] == "true"


def test_a_page_within_a_section_marks_its_menu_link_as_current_but_not_the_page(admin, stack):
    product = stack.api("GET", "/api/products").json()["items"][0]
    page = admin.get(f"/admin/products/{product['id']}")
    assert page.status_code == 200
    links = _links(page.text)
    assert [link for link in links if link.get("aria-current") == "page"] == []
    [menu] = [link for link in links if link["href"] == "/admin/products"]
    assert menu["text"] == "Sản phẩm (quản trị)" and menu["aria-current"] == "true"
