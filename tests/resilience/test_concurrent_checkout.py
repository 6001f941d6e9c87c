"""Sale day: 20 shoppers each place 10 orders, all 200 requests released at the same moment."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from .conftest import ADDRESS, Shop

SHOPPERS = 20
ORDERS_EACH = 10
SHIPPING_FEE = 30_000  # the orders service's default flat fee


def _basket(rng: random.Random, products: list[dict]) -> list[dict]:
    lines = {}
    for product in rng.sample(products, k=rng.randint(1, 3)):
        size = rng.choice(product["sizes"])
        lines[(product["id"], size["size"])] = {
            "productId": product["id"], "size": size["size"], "quantity": rng.randint(1, 4),
            "price": size["price"]}
    return list(lines.values())


def test_every_201_is_exactly_one_stored_order_with_the_right_total(healthy_shop: Shop):
    shop = healthy_shop
    with ThreadPoolExecutor(SHOPPERS) as pool:
        shoppers = list(pool.map(lambda i: shop.register(f"sale{i}"), range(SHOPPERS)))
    products = shop.products()
    rng = random.Random(20240214)
    plans = [(shopper, _basket(rng, products), str(uuid.uuid4()))
             for shopper in shoppers for _ in range(ORDERS_EACH)]
    release = threading.Barrier(len(plans))
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=len(plans)))

    def place(plan):
        shopper, basket, key = plan
        body = {"items": [{k: v for k, v in line.items() if k != "price"} for line in basket],
                "shippingAddress": ADDRESS}
        release.wait()
        response = session.post(f"{shop.url('orders')}/api/orders", json=body, timeout=60,
                                headers={**shopper.headers, "Idempotency-Key": key})
        return plan, response

    with ThreadPoolExecutor(len(plans)) as pool:
        results = list(pool.map(place, plans))

    statuses = Counter(response.status_code for _, response in results)
    assert statuses == {201: len(plans)}, {s: n for s, n in statuses.items()}

    expected = {}
    for (shopper, basket, _), response in results:
        order = response.json()
        subtotal = sum(line["price"] * line["quantity"] for line in basket)
        assert order["userId"] == shopper.id
        assert order["subtotal"] == subtotal
        assert order["totalAmount"] == subtotal + SHIPPING_FEE
        expected[order["id"]] = (shopper.id, subtotal + SHIPPING_FEE, len(basket))
    assert len(expected) == len(plans), "two requests were answered with the same order"

    shopper_ids = [shopper.id for shopper in shoppers]
    stored = shop.sql(
        "SELECT o.id, o.customer_id, o.total_amount, count(i.id), sum(i.line_total) "
        "FROM orders o JOIN order_items i ON i.order_id = o.id "
        "WHERE o.customer_id = ANY(%s) GROUP BY o.id", shopper_ids)
    assert {row[0]: (row[1], row[2], row[3]) for row in stored} == expected
    assert all(row[2] == row[4] + SHIPPING_FEE for row in stored)
