"""Reading what people type (redirect targets, numbers, prices) and the APIs' refusals in Vietnamese."""

from __future__ import annotations

import pytest

from services.storefront.session import safe_next

# Each is, to a browser, another host ("/<TAB>/evil.example" opens //evil.example) or cannot be a
# Location header at all (a newline).
FOREIGN_TARGETS = ["/\t/evil.example", "/\n", "/\r\n/evil.example", "/\x0b/evil.example", "//evil.example",
                   "/\\evil.example", "\\\\evil.example", "https://evil.example/", " /orders", "/orders\x00",
                   "/\u2028/evil.example", "/\x85/evil.example", "/orders page", "", None]


@pytest.mark.parametrize("target", FOREIGN_TARGETS)
def test_safe_next_refuses_anything_but_a_plain_same_site_path(target):
    assert safe_next(target, "/cart") == "/cart"


@pytest.mark.parametrize("target", ["/", "/orders?page=2", "/products?q=b%C3%A1nh+kem&size=12cm",
                                    "/products/7", "/admin/orders?status=PENDING&from=2026-01-01"])
def test_safe_next_keeps_same_site_paths(target):
    assert safe_next(target, "/cart") == target
