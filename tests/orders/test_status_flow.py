"""Status flow (DESIGN.md): PENDING → PROCESSING → SHIPPED → DELIVERED; CANCELLED from PENDING or
PROCESSING; everything else 409. Who may do what, and concurrent changes."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime

import pytest
import requests

from tests.conftest import assert_error, live_server

from .conftest import ADMIN, CUSTOMER, OTHER_CUSTOMER, row_counts

STATUSES = ("PENDING", "PROCESSING", "SHIPPED", "DELIVERED", "CANCELLED")
# Written out from DESIGN.md, independently of the service's own table.
VALID = {("PENDING", "PROCESSING"), ("PROCESSING", "SHIPPED"), ("SHIPPED", "DELIVERED"),
         ("PENDING", "CANCELLED"), ("PROCESSING", "CANCELLED")}
# How to reach each status from PENDING with valid admin steps.
PATH = {"PENDING": [], "PROCESSING": ["PROCESSING"], "SHIPPED": ["PROCESSING", "SHIPPED"],
        "DELIVERED": ["PROCESSING", "SHIPPED", "DELIVERED"], "CANCELLED": ["CANCELLED"]}


@pytest.fixture
def order_in(client, auth, place):
    """An order of CUSTOMER, moved by an admin into `status`."""
    def make(status: str) -> dict:
        order = place()
        for step in PATH[status]:
            response = client.patch(f"/api/orders/{order['id']}/status", json={"status": step},
                                    headers=auth(ADMIN, "ADMIN"))
            assert response.status_code == 200, response.get_json()
            order = response.get_json()
        assert order["status"] == status
        return order
    return make


@pytest.mark.parametrize("current, target", list(itertools.product(STATUSES, STATUSES)))
def test_every_transition(client, auth, order_in, current, target):
    order = order_in(current)
    response = client.patch(f"/api/orders/{order['id']}/status", json={"status": target},
                            headers=auth(ADMIN, "ADMIN"))
    if (current, target) in VALID:
        assert response.status_code == 200, response.get_json()
        changed = response.get_json()
        assert changed["status"] == target
        last = changed["statusHistory"][-1]
        assert (last["fromStatus"], last["toStatus"], last["actorId"]) == (current, target, ADMIN)
    else:
        error = assert_error(response, 409, "invalid_transition")
        assert error["details"] == {
            "currentStatus": current, "requestedStatus": target,
            "allowedNextStatuses": [s for s in STATUSES if (current, s) in VALID]}
        unchanged = client.get(f"/api/orders/{order['id']}", headers=auth(ADMIN, "ADMIN")).get_json()
        assert unchanged["status"] == current
        assert len(unchanged["statusHistory"]) == len(order["statusHistory"])


def test_history_records_every_step_with_actor_and_time(client, auth, order_in):
    order = order_in("DELIVERED")
    history = client.get(f"/api/orders/{order['id']}", headers=auth(CUSTOMER)).get_json()["statusHistory"]
    assert [(h["fromStatus"], h["toStatus"], h["actorId"]) for h in history] == [
        (None, "PENDING", CUSTOMER), ("PENDING", "PROCESSING", ADMIN),
        ("PROCESSING", "SHIPPED", ADMIN), ("SHIPPED", "DELIVERED", ADMIN)]
    times = [datetime.fromisoformat(h["changedAt"]) for h in history]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


@pytest.mark.parametrize("body", [{"status": "LOST"}, {"status": "pending"}, {}, {"status": 1},
                                  {"status": "SHIPPED", "isAdmin": True}])
def test_invalid_status_bodies_are_422(client, auth, place, body):
    order = place()
    response = client.patch(f"/api/orders/{order['id']}/status", json=body, headers=auth(ADMIN, "ADMIN"))
    assert_error(response, 422, "validation_error")


def test_customers_cannot_change_status_even_of_their_own_order(client, auth, place):
    order = place()
    response = client.patch(f"/api/orders/{order['id']}/status", json={"status": "PROCESSING"},
                            headers=auth(CUSTOMER))
    assert_error(response, 403, "forbidden")


def test_status_of_a_missing_order_is_404(client, auth):
    for order_id in (999_999, 2**31 - 1, 2**31, 10**30):
        response = client.patch(f"/api/orders/{order_id}/status", json={"status": "PROCESSING"},
                                headers=auth(ADMIN, "ADMIN"))
        assert_error(response, 404, "not_found")


def test_status_without_a_token_is_401(client, place):
    order = place()
    response = client.patch(f"/api/orders/{order['id']}/status", json={"status": "PROCESSING"})
    assert_error(response, 401, "unauthorized")


# --- cancel -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status, owner_may, admin_may", [
    ("PENDING", True, True), ("PROCESSING", False, True), ("SHIPPED", False, False),
    ("DELIVERED", False, False), ("CANCELLED", False, False)])
def test_cancel_rules(client, auth, order_in, status, owner_may, admin_may):
    for caller, allowed in ((auth(CUSTOMER), owner_may), (auth(ADMIN, "ADMIN"), admin_may)):
        order = order_in(status)
        response = client.post(f"/api/orders/{order['id']}/cancel", headers=caller)
        if allowed:
            assert response.status_code == 200, response.get_json()
            cancelled = response.get_json()
            assert cancelled["status"] == "CANCELLED"
            last = cancelled["statusHistory"][-1]
            assert last["fromStatus"] == status and last["toStatus"] == "CANCELLED"
        else:
            error = assert_error(response, 409, "invalid_transition")
            assert error["details"]["currentStatus"] == status
            assert "CANCELLED" not in error["details"]["allowedNextStatuses"]


@pytest.mark.parametrize("status", STATUSES)
def test_next_statuses_are_what_the_caller_may_do(client, auth, order_in, status):
    """Every order the API shows lists the caller's own next steps, and a refusal lists the same."""
    order = order_in(status)
    owner_may = ["CANCELLED"] if status == "PENDING" else []
    admin_may = [s for s in STATUSES if (status, s) in VALID]
    for headers, may in ((auth(CUSTOMER), owner_may), (auth(ADMIN, "ADMIN"), admin_may)):
        assert client.get(f"/api/orders/{order['id']}", headers=headers).get_json()["nextStatuses"] == may
        listed = client.get(f"/api/orders/user/{CUSTOMER}", headers=headers).get_json()["orders"]
        assert [o["nextStatuses"] for o in listed if o["id"] == order["id"]] == [may]
        if "CANCELLED" not in may:
            refused = assert_error(client.post(f"/api/orders/{order['id']}/cancel", headers=headers),
                                   409, "invalid_transition")
            assert refused["details"]["allowedNextStatuses"] == may
    dashboard = client.get("/api/orders", headers=auth(ADMIN, "ADMIN")).get_json()["orders"]
    assert [o["nextStatuses"] for o in dashboard if o["id"] == order["id"]] == [admin_may]


def test_a_placed_order_lists_the_next_steps_of_whoever_placed_it(place):
    assert place()["nextStatuses"] == ["CANCELLED"]
    assert place(ADMIN, "ADMIN", userId=CUSTOMER)["nextStatuses"] == ["PROCESSING", "CANCELLED"]


def test_owner_cancel_is_recorded_with_the_owner_as_actor(client, auth, place):
    order = place()
    cancelled = client.post(f"/api/orders/{order['id']}/cancel", headers=auth(CUSTOMER)).get_json()
    assert cancelled["statusHistory"][-1]["actorId"] == CUSTOMER
    assert cancelled["nextStatuses"] == []


def test_another_customer_cannot_cancel_and_learns_nothing(client, auth, place):
    order = place()
    response = client.post(f"/api/orders/{order['id']}/cancel", headers=auth(OTHER_CUSTOMER))
    assert_error(response, 404, "not_found")
    still = client.get(f"/api/orders/{order['id']}", headers=auth(CUSTOMER)).get_json()
    assert still["status"] == "PENDING"


def test_cancel_needs_a_token(client, place):
    order = place()
    assert_error(client.post(f"/api/orders/{order['id']}/cancel"), 401, "unauthorized")


# --- concurrent changes -----------------------------------------------------------------------

def _race(url: str, requests_to_send: list[tuple[str, str, dict, dict | None]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(requests_to_send))
    results: list = [None] * len(requests_to_send)

    def send(index, method, path, headers, body):
        barrier.wait(timeout=10)
        results[index] = requests.request(method, url + path, headers=headers, json=body, timeout=30)

    threads = [threading.Thread(target=send, args=(i, *spec)) for i, spec in enumerate(requests_to_send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_status_changes_apply_once(make_app, orders_database, auth, tokens):
    app = make_app(orders_database, db_pool_size=10)
    client = app.test_client()
    order = client.post("/api/orders", json={"items": [{"productId": 1, "size": "12cm", "quantity": 1}],
                                             "shippingAddress": "1 Lê Lợi"},
                        headers=auth(CUSTOMER)).get_json()
    admin = tokens.headers(ADMIN, "ADMIN")
    with live_server(app) as url:
        results = _race(url, [("PATCH", f"/api/orders/{order['id']}/status", admin,
                               {"status": "PROCESSING"})] * 8)
    assert sorted(r.status_code for r in results) == [200] + [409] * 7, [r.text for r in results]
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} <= {
        "invalid_transition", "concurrent_update"}
    assert row_counts(app)["order_status_history"] == 2


def test_owner_cancel_racing_admin_processing_leaves_one_consistent_outcome(make_app, orders_database,
                                                                          auth, tokens):
    app = make_app(orders_database)
    client = app.test_client()
    order = client.post("/api/orders", json={"items": [{"productId": 1, "size": "12cm", "quantity": 1}],
                                             "shippingAddress": "1 Lê Lợi"},
                        headers=auth(CUSTOMER)).get_json()
    with live_server(app) as url:
        cancel, process = _race(url, [
            ("POST", f"/api/orders/{order['id']}/cancel", tokens.headers(CUSTOMER), None),
            ("PATCH", f"/api/orders/{order['id']}/status", tokens.headers(ADMIN, "ADMIN"),
             {"status": "PROCESSING"})])
    assert sorted([cancel.status_code, process.status_code]) == [200, 409]
    final = client.get(f"/api/orders/{order['id']}", headers=auth(ADMIN, "ADMIN")).get_json()
    assert final["status"] == ("CANCELLED" if cancel.status_code == 200 else "PROCESSING")
    assert [h["toStatus"] for h in final["statusHistory"]] == ["PENDING", final["status"]]
