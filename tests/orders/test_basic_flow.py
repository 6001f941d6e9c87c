"""The everyday flow on both databases: PostgreSQL and the embedded SQLite default."""

from __future__ import annotations

from tests.conftest import migrate_once, read_events

from .conftest import ADMIN, CUSTOMER, order_body


def test_place_track_fulfil_and_cancel(make_app, database_url, auth, catalog, events_file):
    client = make_app(migrate_once("orders", database_url)).test_client()
    price = catalog.price(4, "Hộp 6 cái")

    created = client.post("/api/orders", json=order_body((4, "Hộp 6 cái", 2), totalAmount=2 * price + 30_000),
                          headers=auth(CUSTOMER, **{"Idempotency-Key": "basic-1"}))
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert order["totalAmount"] == 2 * price + 30_000
    replay = client.post("/api/orders", json=order_body((4, "Hộp 6 cái", 2), totalAmount=2 * price + 30_000),
                         headers=auth(CUSTOMER, **{"Idempotency-Key": "basic-1"}))
    assert replay.status_code == 201 and replay.get_json() == order

    history = client.get(f"/api/orders/user/{CUSTOMER}", headers=auth(CUSTOMER)).get_json()
    assert [o["id"] for o in history["orders"]] == [order["id"]]

    for step in ("PROCESSING", "SHIPPED", "DELIVERED"):
        response = client.patch(f"/api/orders/{order['id']}/status", json={"status": step},
                                headers=auth(ADMIN, "ADMIN"))
        assert response.status_code == 200 and response.get_json()["status"] == step
    assert client.patch(f"/api/orders/{order['id']}/status", json={"status": "PENDING"},
                        headers=auth(ADMIN, "ADMIN")).status_code == 409

    second = client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=auth(CUSTOMER)).get_json()
    cancelled = client.post(f"/api/orders/{second['id']}/cancel", headers=auth(CUSTOMER))
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "CANCELLED"

    detail = client.get(f"/api/orders/{order['id']}", headers=auth(CUSTOMER)).get_json()
    assert [h["toStatus"] for h in detail["statusHistory"]] == ["PENDING", "PROCESSING", "SHIPPED",
                                                                "DELIVERED"]
    dashboard = client.get("/api/orders", headers=auth(ADMIN, "ADMIN")).get_json()["summary"]
    assert dashboard["orderCount"] == 1 and dashboard["revenue"] == order["totalAmount"]
    assert dashboard["byStatus"]["CANCELLED"] == 1
    summary = client.get("/api/orders/summary", headers=auth(ADMIN, "ADMIN")).get_json()
    assert summary["bestSellersByQuantity"][0]["productId"] == 4
    assert len(read_events(events_file, "Order Completed")) == 2
