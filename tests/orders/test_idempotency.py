"""Idempotency-Key: a retried order is the same order, even when the retries race."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import select

from services.orders.models import IdempotencyKey
from tests.conftest import assert_error, live_server, read_events

from .conftest import CUSTOMER, OTHER_CUSTOMER, order_body, row_counts


def test_same_key_same_body_returns_the_same_order(client, app, auth, events_file):
    headers = auth(CUSTOMER, **{"Idempotency-Key": "checkout-7f3a"})
    first = client.post("/api/orders", json=order_body((1, "12cm", 2)), headers=headers)
    again = client.post("/api/orders", json=order_body((1, "12cm", 2)), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert row_counts(app) == {"orders": 1, "order_items": 1, "order_status_history": 1,
                               "idempotency_keys": 1}
    assert len(read_events(events_file, "Order Completed")) == 1


def test_replay_returns_the_original_response_even_after_a_status_change(client, auth):
    headers = auth(CUSTOMER, **{"Idempotency-Key": "k-status"})
    first = client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=headers).get_json()
    client.post(f"/api/orders/{first['id']}/cancel", headers=auth(CUSTOMER))
    again = client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=headers)
    assert again.status_code == 201 and again.get_json() == first
    assert again.get_json()["status"] == "PENDING"  # the stored answer, not a second order


def test_key_order_and_whitespace_do_not_change_the_fingerprint(client, auth):
    headers = auth(CUSTOMER, **{"Idempotency-Key": "canonical"})
    body = order_body((1, "12cm", 1), notes="Ít đường")
    first = client.post("/api/orders", json=body, headers=headers)
    reordered = {"notes": "  Ít đường ", "shippingAddress": body["shippingAddress"],
                 "items": [{"quantity": 1, "size": "12cm", "productId": 1}]}
    again = client.post("/api/orders", json=reordered, headers=headers)
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]


def test_same_key_different_body_is_422(client, app, auth):
    headers = auth(CUSTOMER, **{"Idempotency-Key": "k-1"})
    assert client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=headers).status_code == 201
    response = client.post("/api/orders", json=order_body((1, "12cm", 2)), headers=headers)
    assert_error(response, 422, "idempotency_key_reused")
    assert row_counts(app)["orders"] == 1


def test_keys_are_scoped_per_customer(client, app, auth):
    body = order_body((1, "12cm", 1))
    mine = client.post("/api/orders", json=body, headers=auth(CUSTOMER, **{"Idempotency-Key": "same"}))
    theirs = client.post("/api/orders", json=body,
                         headers=auth(OTHER_CUSTOMER, **{"Idempotency-Key": "same"}))
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    assert theirs.get_json()["userId"] == OTHER_CUSTOMER
    assert row_counts(app)["orders"] == 2


def test_a_refused_attempt_does_not_use_up_the_key(client, app, auth, catalog):
    headers = auth(CUSTOMER, **{"Idempotency-Key": "after-409"})
    tampered = order_body((1, "12cm", 1), totalAmount=1)
    assert client.post("/api/orders", json=tampered, headers=headers).status_code == 409
    corrected = order_body((1, "12cm", 1), totalAmount=catalog.price(1, "12cm") + 30_000)
    assert client.post("/api/orders", json=corrected, headers=headers).status_code == 201


def test_without_a_key_each_post_is_a_new_order(client, app, auth):
    for _ in range(2):
        assert client.post("/api/orders", json=order_body((1, "12cm", 1)),
                           headers=auth(CUSTOMER)).status_code == 201
    assert row_counts(app)["orders"] == 2


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "ключ", "tab\there", "bell\x07"])
def test_invalid_keys_are_422(client, app, auth, key):
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)),
                           headers=auth(CUSTOMER, **{"Idempotency-Key": key}))
    assert_error(response, 422, "validation_error")
    assert row_counts(app)["orders"] == 0


def test_longest_valid_key_is_accepted(client, auth):
    key = "k" * 255
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)),
                           headers=auth(CUSTOMER, **{"Idempotency-Key": key}))
    assert response.status_code == 201


def test_stored_key_row_records_customer_fingerprint_and_response(client, app, auth):
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)),
                           headers=auth(CUSTOMER, **{"Idempotency-Key": "stored"}))
    with app.extensions["db"].sessionmaker() as session:
        row = session.scalars(select(IdempotencyKey)).one()
    assert (row.customer_id, row.key, row.order_id, row.response_status) == (
        CUSTOMER, "stored", response.get_json()["id"], 201)
    assert len(row.request_hash) == 64 and row.response_body == response.get_json()


def test_twenty_concurrent_requests_with_one_key_make_exactly_one_order(make_app, orders_database,
                                                                       tokens, events_file):
    # Enough pooled connections that every request reaches the database at the same time.
    app = make_app(orders_database, db_pool_size=12)
    body = order_body((1, "12cm", 1), (2, "16cm", 2))
    headers = {**tokens.headers(CUSTOMER), "Idempotency-Key": "race-2024-01"}
    start = threading.Barrier(20)
    results: list[requests.Response | BaseException] = [None] * 20  # type: ignore[list-item]

    with live_server(app) as url:
        def attempt(index: int) -> None:
            try:
                with requests.Session() as session:
                    start.wait(timeout=10)
                    results[index] = session.post(f"{url}/api/orders", json=body, headers=headers,
                                                  timeout=30)
            except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
                results[index] = exc

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert all(isinstance(r, requests.Response) for r in results), results
    assert [r.status_code for r in results] == [201] * 20, [r.text for r in results if r.status_code != 201]
    assert len({r.json()["id"] for r in results}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 19
    assert row_counts(app) == {"orders": 1, "order_items": 2, "order_status_history": 1,
                               "idempotency_keys": 1}
    assert len(read_events(events_file, "Order Completed")) == 1


def test_the_order_placed_with_a_key_can_be_looked_up_by_its_caller(client, auth):
    """Whether a request whose answer never came went through, without placing another order."""
    placed = client.post("/api/orders", json=order_body((1, "12cm", 1)),
                         headers=auth(CUSTOMER, **{"Idempotency-Key": "lost answer/1"})).get_json()
    client.post(f"/api/orders/{placed['id']}/cancel", headers=auth(CUSTOMER))

    found = client.get("/api/orders/by-key", query_string={"idempotencyKey": "lost answer/1"},
                       headers=auth(CUSTOMER))

    assert found.status_code == 200
    assert found.get_json()["id"] == placed["id"]
    assert found.get_json()["status"] == "CANCELLED"  # the order as it is now


def test_looking_up_a_key_finds_only_the_callers_own_orders(client, auth):
    client.post("/api/orders", json=order_body((1, "12cm", 1)),
                headers=auth(CUSTOMER, **{"Idempotency-Key": "k"}))
    for caller, key in ((OTHER_CUSTOMER, "k"), (CUSTOMER, "never sent")):
        response = client.get("/api/orders/by-key", query_string={"idempotencyKey": key},
                              headers=auth(caller))
        assert_error(response, 404, "not_found")


@pytest.mark.parametrize("params", [{}, {"idempotencyKey": ""}, {"idempotencyKey": "x" * 256},
                                    {"idempotencyKey": "tab\there"}, {"idempotencyKey": "   "}])
def test_a_malformed_key_lookup_is_422(client, auth, params):
    response = client.get("/api/orders/by-key", query_string=params, headers=auth(CUSTOMER))
    assert_error(response, 422, "validation_error")


def test_looking_up_a_key_needs_a_valid_token(client, tokens):
    assert_error(client.get("/api/orders/by-key", query_string={"idempotencyKey": "k"}), 401, "unauthorized")
    expired = {"Authorization": f"Bearer {tokens.token(CUSTOMER, exp=1)}"}
    response = client.get("/api/orders/by-key", query_string={"idempotencyKey": "k"}, headers=expired)
    assert_error(response, 401, "token_expired")
