"""The catalog (the only source of prices) is down or hangs: placing an order fails with a 503 in
bounded time, writes nothing, and the same Idempotency-Key works once the catalog is back."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from .conftest import ADDRESS, Shop, error_shape

# orders' defaults: 1 s connect, 2 s read, 1 retry → about 4 s when the catalog never answers.
SLOW_BOUND_S = 6.5
DOWN_BOUND_S = 2.0


def _rows(shop: Shop, customer_id: int) -> dict[str, int]:
    return {
        "orders": shop.sql("SELECT count(*) FROM orders WHERE customer_id = %s", customer_id)[0][0],
        "order_items": shop.sql("SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id "
                                "WHERE o.customer_id = %s", customer_id)[0][0],
        "idempotency_keys": shop.sql("SELECT count(*) FROM idempotency_keys WHERE customer_id = %s",
                                     customer_id)[0][0],
    }


@pytest.mark.parametrize(("fault", "bound"), [("down", DOWN_BOUND_S), ("hang", SLOW_BOUND_S)])
def test_order_fails_fast_and_writes_nothing_when_the_catalog_cannot_answer(healthy_shop: Shop,
                                                                           fault, bound):
    shop = healthy_shop
    shopper = shop.register(f"catalog-{fault}")
    product = shop.products()[0]
    body = {"items": [{"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 2}],
            "shippingAddress": ADDRESS}
    headers = {**shopper.headers, "Idempotency-Key": str(uuid.uuid4())}
    before = _rows(shop, shopper.id)

    getattr(shop.catalog_proxy, fault)()
    started = time.monotonic()
    response = requests.post(f"{shop.url('orders')}/api/orders", json=body, headers=headers, timeout=30)
    took = time.monotonic() - started
    shop.catalog_proxy.up()

    assert response.status_code == 503, response.text
    assert error_shape(response)["code"] == "upstream_unavailable"
    assert response.headers.get("Retry-After")
    assert took < bound, took
    print(f"\ncatalog {fault}: 503 after {took * 1000:.0f} ms")
    assert _rows(shop, shopper.id) == before

    retry = requests.post(f"{shop.url('orders')}/api/orders", json=body, headers=headers, timeout=30)
    assert retry.status_code == 201, retry.text
    assert retry.json()["totalAmount"] == 2 * product["sizes"][0]["price"] + 30_000
    assert _rows(shop, shopper.id)["orders"] == before["orders"] + 1
