"""POST /api/orders: catalog prices only, shipping in the total, tampering refused, nothing half-done."""

from __future__ import annotations

import json
import socket
import time
import unicodedata
from datetime import UTC, datetime

import pytest
import requests

from services.orders import catalog as catalog_client
from services.orders import checkout
from tests.conftest import assert_error, read_events
from tests.kit.test_auth import FORGERIES

from .conftest import ADDRESS, ADMIN, CUSTOMER, OTHER_CUSTOMER, order_body, row_counts

NO_ROWS = {"orders": 0, "order_items": 0, "order_status_history": 0, "idempotency_keys": 0}


def test_prices_come_from_the_catalog_and_shipping_is_in_the_total(client, auth, catalog):
    mousse, tiramisu = catalog.price(1, "12cm"), catalog.price(2, "16cm")
    response = client.post("/api/orders", json=order_body((1, "12cm", 2), (2, "16cm", 1)),
                           headers=auth(CUSTOMER))
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert response.headers["Location"] == f"/api/orders/{order['id']}"
    assert [(i["productId"], i["size"], i["unitPrice"], i["quantity"], i["lineTotal"])
            for i in order["items"]] == [(1, "12cm", mousse, 2, 2 * mousse),
                                         (2, "16cm", tiramisu, 1, tiramisu)]
    assert order["subtotal"] == 2 * mousse + tiramisu
    assert order["shippingFee"] == 30_000
    assert order["totalAmount"] == 2 * mousse + tiramisu + 30_000
    assert order["status"] == "PENDING" and order["userId"] == CUSTOMER
    assert order["items"][0]["productName"] == catalog.quote(1, "12cm")["productName"]
    assert order["items"][0]["category"] == catalog.quote(1, "12cm")["category"]
    assert order["shippingAddress"] == ADDRESS
    [created] = order["statusHistory"]
    assert created["fromStatus"] is None and created["toStatus"] == "PENDING"
    assert created["actorId"] == CUSTOMER


def test_a_size_typed_with_its_accents_apart_is_the_catalogs_size(client, auth, catalog):
    """"Hộp 6 cái" sent as NFD (letters and combining accents) names the catalog's NFC label."""
    apart = unicodedata.normalize("NFD", "Hộp 6 cái")
    response = client.post("/api/orders", json=order_body((4, apart, 1)), headers=auth(CUSTOMER))
    assert response.status_code == 201, response.get_json()
    [item] = response.get_json()["items"]
    assert (item["size"], item["unitPrice"]) == ("Hộp 6 cái", catalog.price(4, "Hộp 6 cái"))


def test_shipping_fee_comes_from_config(make_app, orders_database, auth, catalog):
    client = make_app(orders_database, shipping_fee_vnd=45_000).test_client()
    price = catalog.price(3, "20cm")
    response = client.post("/api/orders", json=order_body((3, "20cm", 1), totalAmount=price + 45_000),
                           headers=auth(CUSTOMER))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["shippingFee"] == 45_000
    assert response.get_json()["totalAmount"] == price + 45_000


def test_matching_prices_and_total_from_the_browser_are_accepted(client, auth, catalog):
    price = catalog.price(1, "16cm")
    body = order_body((1, "16cm", 3), totalAmount=3 * price + 30_000)
    body["items"][0]["price"] = price
    response = client.post("/api/orders", json=body, headers=auth(CUSTOMER))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["totalAmount"] == 3 * price + 30_000


def test_tampered_price_is_409_with_current_prices_and_nothing_written(client, app, auth, catalog):
    price = catalog.price(1, "12cm")
    body = order_body((1, "12cm", 2), (2, "12cm", 1))
    body["items"][0]["price"] = 1_000  # the original trusted this
    error = assert_error(client.post("/api/orders", json=body, headers=auth(CUSTOMER)),
                         409, "price_changed")
    details = error["details"]
    assert details["items"][0] == {"productId": 1, "size": "12cm", "quantity": 2, "price": price,
                                   "submittedPrice": 1_000, "lineTotal": 2 * price}
    assert details["items"][1]["price"] == catalog.price(2, "12cm")
    assert details["items"][1]["submittedPrice"] is None
    assert details["subtotal"] == 2 * price + catalog.price(2, "12cm")
    assert details["totalAmount"] == details["subtotal"] + 30_000
    assert row_counts(app) == NO_ROWS


def test_a_price_raised_in_the_catalog_after_the_shopper_looked_is_409(client, app, auth, catalog, tokens):
    product = requests.get(f"{catalog.url}/api/products/6", timeout=5).json()
    [size] = [s for s in product["sizes"] if s["size"] == "M"]
    seen = size["price"]
    admin = tokens.headers(ADMIN, "ADMIN")
    raised = requests.patch(f"{catalog.url}/api/products/6/sizes/{size['id']}", headers=admin,
                            json={"price": seen + 5_000}, timeout=5)
    assert raised.status_code == 200, raised.text
    try:
        body = order_body((6, "M", 2), totalAmount=2 * seen + 30_000)
        body["items"][0]["price"] = seen
        error = assert_error(client.post("/api/orders", json=body, headers=auth(CUSTOMER)),
                             409, "price_changed")
        assert error["details"]["items"][0]["price"] == seen + 5_000
        assert error["details"]["totalAmount"] == 2 * (seen + 5_000) + 30_000
        assert row_counts(app) == NO_ROWS
        # Confirming the new figures places the order at the catalog's price.
        body["items"][0]["price"] = seen + 5_000
        body["totalAmount"] = 2 * (seen + 5_000) + 30_000
        placed = client.post("/api/orders", json=body, headers=auth(CUSTOMER))
        assert placed.status_code == 201 and placed.get_json()["items"][0]["unitPrice"] == seen + 5_000
    finally:
        requests.patch(f"{catalog.url}/api/products/6/sizes/{size['id']}", headers=admin,
                       json={"price": seen}, timeout=5)


def test_an_inactive_product_is_422(client, app, auth, catalog, tokens):
    admin = tokens.headers(ADMIN, "ADMIN")
    assert requests.patch(f"{catalog.url}/api/products/7", headers=admin, json={"active": False},
                          timeout=5).status_code == 200
    try:
        error = assert_error(client.post("/api/orders", json=order_body((7, "M", 1)),
                                         headers=auth(CUSTOMER)), 422, "items_unavailable")
        assert error["details"] == [{"index": 0, "productId": 7, "size": "M", "reason": "inactive"}]
        assert row_counts(app) == NO_ROWS
    finally:
        requests.patch(f"{catalog.url}/api/products/7", headers=admin, json={"active": True}, timeout=5)


def test_tampered_total_is_409(client, app, auth, catalog):
    price = catalog.price(1, "12cm")
    error = assert_error(client.post("/api/orders", json=order_body((1, "12cm", 1), totalAmount=price),
                                     headers=auth(CUSTOMER)), 409, "price_changed")
    # The shopper forgot shipping: the answer says what the total really is.
    assert error["details"]["totalAmount"] == price + 30_000
    assert error["details"]["submittedTotalAmount"] == price
    assert row_counts(app) == NO_ROWS


def test_another_customers_user_id_is_403(client, app, auth):
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), userId=OTHER_CUSTOMER),
                           headers=auth(CUSTOMER))
    assert_error(response, 403, "forbidden")
    assert row_counts(app) == NO_ROWS


def test_own_user_id_is_accepted(client, auth):
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), userId=CUSTOMER),
                           headers=auth(CUSTOMER))
    assert response.status_code == 201
    assert response.get_json()["userId"] == CUSTOMER


def test_admin_may_order_for_a_customer(client, auth):
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), userId=CUSTOMER),
                           headers=auth(ADMIN, "ADMIN"))
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["userId"] == CUSTOMER and order["placedBy"] == ADMIN
    assert order["statusHistory"][0]["actorId"] == ADMIN


def test_an_admin_order_asks_users_with_the_admins_token_and_a_customers_own_does_not(client, auth, users):
    own = client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=auth(CUSTOMER))
    assert own.status_code == 201
    assert users.calls == []
    admin = auth(ADMIN, "ADMIN")
    assert client.post("/api/orders", json=order_body((1, "12cm", 1), userId=CUSTOMER),
                       headers=admin).status_code == 201
    assert users.calls == [(CUSTOMER, admin["Authorization"])]


def test_an_admin_order_for_a_customer_who_does_not_exist_is_422_and_writes_nothing(client, app, auth,
                                                                                    users, catalog):
    users.missing.add(987_654)
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), userId=987_654),
                           headers=auth(ADMIN, "ADMIN"))
    error = assert_error(response, 422, "unknown_customer")
    assert error["details"][0]["field"] == "userId"
    assert row_counts(app) == NO_ROWS
    assert ("POST", "/api/products/prices") not in catalog.faults.calls  # refused before pricing


def test_an_admin_order_while_users_cannot_answer_is_503_and_writes_nothing(client, app, auth, users):
    users.down = True
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), userId=CUSTOMER),
                           headers=auth(ADMIN, "ADMIN"))
    assert_error(response, 503, "upstream_unavailable")
    assert response.headers["Retry-After"] == "2"
    assert row_counts(app) == NO_ROWS


@pytest.mark.parametrize("status", [200, 404])
def test_an_answer_that_is_not_users_is_503_never_an_order_or_a_verdict(client, app, auth, users, status):
    users.page = (status, "<html><body>Welcome to nginx!</body></html>")
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), userId=CUSTOMER),
                           headers=auth(ADMIN, "ADMIN"))
    assert_error(response, 503, "upstream_unavailable")
    assert row_counts(app) == NO_ROWS


def test_is_admin_in_the_body_is_refused(client, app, auth):
    # The original trusted {"isAdmin": true}; roles come from the verified token only.
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), userId=OTHER_CUSTOMER,
                                                          isAdmin=True), headers=auth(CUSTOMER))
    assert_error(response, 422, "validation_error")
    assert row_counts(app) == NO_ROWS


def test_no_token_is_401(client):
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_tokens_are_401(client, app, tokens, forgery):
    token = FORGERIES[forgery](tokens)
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.get_json()
    assert row_counts(app) == NO_ROWS


def test_admin_role_signed_by_another_key_is_401(client, tokens):
    from cryptography.hazmat.primitives.asymmetric import ec
    forged = tokens.token(ADMIN, "ADMIN", key=ec.generate_private_key(ec.SECP256R1()))
    headers = {"Authorization": f"Bearer {forged}"}
    assert_error(client.get("/api/orders", headers=headers), 401, "invalid_token")
    assert_error(client.patch("/api/orders/1/status", json={"status": "PROCESSING"}, headers=headers),
                 401, "invalid_token")


@pytest.mark.parametrize("body, field", [
    ({"shippingAddress": ADDRESS}, "items"),
    ({"items": [], "shippingAddress": ADDRESS}, "items"),
    (order_body((1, "12cm", 0)), "items.0.quantity"),
    (order_body((1, "12cm", 100)), "items.0.quantity"),
    (order_body((1, "12cm", 10**30)), "items.0.quantity"),
    (order_body((1, "12cm", -1)), "items.0.quantity"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": "2"}], "shippingAddress": ADDRESS},
     "items.0.quantity"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": True}], "shippingAddress": ADDRESS},
     "items.0.quantity"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": 1.5}], "shippingAddress": ADDRESS},
     "items.0.quantity"),
    ({"items": [{"productId": "1", "size": "12cm", "quantity": 1}], "shippingAddress": ADDRESS},
     "items.0.productId"),
    ({"items": [{"productId": 10**20, "size": "12cm", "quantity": 1}], "shippingAddress": ADDRESS},
     "items.0.productId"),
    ({"items": [{"productId": 1, "quantity": 1}], "shippingAddress": ADDRESS}, "items.0.size"),
    ({"items": [{"productId": 1, "size": "x" * 21, "quantity": 1}], "shippingAddress": ADDRESS},
     "items.0.size"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": 1, "price": -5}],
      "shippingAddress": ADDRESS}, "items.0.price"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": 1, "price": "90000"}],
      "shippingAddress": ADDRESS}, "items.0.price"),
    ({"items": "everything", "shippingAddress": ADDRESS}, "items"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": 1}] * 1, "shippingAddress": ""},
     "shippingAddress"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": 1}]}, "shippingAddress"),
    ({"items": [{"productId": 1, "size": "12cm", "quantity": 1}], "shippingAddress": "   "},
     "shippingAddress"),
    (order_body((1, "12cm", 1)) | {"shippingAddress": "x" * 501}, "shippingAddress"),
    (order_body((1, "12cm", 1)) | {"notes": "x" * 1001}, "notes"),
    # Control characters, refused as the users service refuses them (services/kit/text.py).
    (order_body((1, "12cm", 1)) | {"shippingAddress": "a\u0001b"}, "shippingAddress"),
    (order_body((1, "12cm", 1)) | {"shippingAddress": "12 Lê Lợi\u0000"}, "shippingAddress"),
    (order_body((1, "12cm", 1)) | {"notes": "Ít ngọt\u001b[31m"}, "notes"),
    (order_body((1, "12cm", 1)) | {"notes": "x\u007f"}, "notes"),
    (order_body((1, "12cm", 1)) | {"shippingAddress": "12 Lê Lợi\u009b31m"}, "shippingAddress"),
    (order_body((1, "12cm", 1)) | {"notes": "Ít ngọt\u0085Gọi trước"}, "notes"),
    ({"items": [{"productId": 1, "size": "12\u0090cm", "quantity": 1}], "shippingAddress": ADDRESS},
     "items.0.size"),
    ({"items": [{"productId": 1, "size": "12\u0000cm", "quantity": 1}], "shippingAddress": ADDRESS},
     "items.0.size"),
    (order_body((1, "12cm", 1)) | {"totalAmount": 10**13}, "totalAmount"),
    (order_body((1, "12cm", 1)) | {"totalAmount": "120000"}, "totalAmount"),
    (order_body((1, "12cm", 1)) | {"userId": "1001"}, "userId"),
    (order_body((1, "12cm", 1)) | {"userId": 0}, "userId"),
    (order_body(*[(pid, "12cm", 1) for pid in range(1, 102)]), "items"),
    (order_body((1, "12cm", 1), (1, "12cm", 2)), ""),
])
def test_invalid_bodies_are_422_and_write_nothing(client, app, auth, body, field):
    error = assert_error(client.post("/api/orders", json=body, headers=auth(CUSTOMER)),
                         422, "validation_error")
    assert any(d["field"] == field for d in error["details"]), error["details"]
    assert row_counts(app) == NO_ROWS


@pytest.mark.parametrize("field", ["shippingAddress", "notes"])
def test_a_lone_surrogate_is_422_and_writes_nothing(client, app, auth, field):
    # json.dumps writes the escape ("\\ud800"): valid JSON, but no UTF-8 text (it was a 500).
    body = json.dumps(order_body((1, "12cm", 1)) | {field: "12 Lê Lợi \ud800"})
    response = client.post("/api/orders", data=body, content_type="application/json",
                           headers=auth(CUSTOMER))
    error = assert_error(response, 422, "validation_error")
    assert [d["field"] for d in error["details"]] == [field]
    assert row_counts(app) == NO_ROWS


def test_an_address_and_notes_may_span_lines(client, auth):
    address, notes = "12 Lê Lợi\nQuận 1", "Gọi trước 15 phút\r\n\tÍt ngọt"
    response = client.post("/api/orders", json=order_body((1, "12cm", 1), shippingAddress=address,
                                                          notes=notes), headers=auth(CUSTOMER))
    assert response.status_code == 201, response.get_json()
    stored = client.get(response.headers["Location"], headers=auth(CUSTOMER)).get_json()
    assert (stored["shippingAddress"], stored["notes"]) == (address, notes)


def test_unknown_product_and_size_are_422_with_reasons(client, app, auth):
    body = order_body((1, "12cm", 1), (999_999, "12cm", 1), (2, "99cm", 1))
    error = assert_error(client.post("/api/orders", json=body, headers=auth(CUSTOMER)),
                         422, "items_unavailable")
    assert error["details"] == [
        {"index": 1, "productId": 999_999, "size": "12cm", "reason": "unknown_product"},
        {"index": 2, "productId": 2, "size": "99cm", "reason": "unknown_size"},
    ]
    assert row_counts(app) == NO_ROWS


@pytest.mark.parametrize("data, content_type, status, code", [
    ("not json", "text/plain", 415, "unsupported_media_type"),
    ("{bad json", "application/json", 400, "bad_request"),
    ("[1, 2]", "application/json", 422, "validation_error"),
    ('{"items": ' + "[" * 5000 + "]" * 5000 + "}", "application/json", 400, "bad_request"),
])
def test_malformed_requests_are_clear_4xx(client, auth, data, content_type, status, code):
    response = client.post("/api/orders", data=data, content_type=content_type, headers=auth(CUSTOMER))
    assert_error(response, status, code)


def test_huge_body_is_413(client, auth):
    body = order_body((1, "12cm", 1), notes="x" * (1024 * 1024 + 1))
    assert_error(client.post("/api/orders", json=body, headers=auth(CUSTOMER)), 413, "payload_too_large")


def test_order_completed_event_after_commit(client, auth, catalog, events_file):
    price = catalog.price(2, "20cm")
    response = client.post("/api/orders", json=order_body((2, "20cm", 2)),
                           headers=auth(CUSTOMER, **{"X-Session-Id": "sess-42", "X-Request-Id": "req-7"}))
    order = response.get_json()
    [event] = read_events(events_file, "Order Completed")
    assert event["type"] == "user_action" and event["service"] == "orders"
    assert event["userId"] == str(CUSTOMER)
    assert event["sessionId"] == "sess-42" and event["requestId"] == "req-7"
    props = event["properties"]
    assert props["orderId"] == order["id"]
    assert "userId" not in props  # the envelope's, a string, is the one the export's table has
    assert props["totalAmount"] == 2 * price + 30_000 == order["totalAmount"]
    quote = catalog.quote(2, "20cm")
    assert quote["category"]
    assert props["products"] == [{"productId": 2, "name": quote["productName"], "size": "20cm", "quantity": 2,
                                  "unitPrice": price, "categoryId": quote["categoryId"],
                                  "category": quote["category"]}]


def test_an_order_placed_just_before_local_midnight_has_its_event_on_the_same_shop_day(
        client, auth, events_file, monkeypatch):
    # 23:59:59.900 in Vietnam: the event is written after the commit, which can end past midnight.
    placed_at = datetime(2026, 1, 31, 16, 59, 59, 900_000, tzinfo=UTC)
    monkeypatch.setattr(checkout, "utcnow", lambda: placed_at)
    order = client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=auth(CUSTOMER)).get_json()
    [event] = read_events(events_file, "Order Completed")
    assert order["placedOn"] == "2026-01-31"
    assert event["timestamp"] == order["createdAt"] == "2026-01-31T16:59:59.900Z"


def test_no_event_when_the_order_is_refused(client, auth, events_file):
    client.post("/api/orders", json=order_body((1, "12cm", 1), totalAmount=1), headers=auth(CUSTOMER))
    assert read_events(events_file, "Order Completed") == []


def test_the_customers_cart_is_cleared_after_the_order(client, auth, catalog, tokens):
    shopper = 4242
    headers = tokens.headers(shopper)
    added = requests.post(f"{catalog.url}/api/cart", headers=headers, timeout=5,
                          json={"productId": 1, "size": "12cm", "quantity": 2})
    assert added.status_code in (200, 201), added.text
    assert _cart_items(catalog, tokens, shopper)

    response = client.post("/api/orders", json=order_body((1, "12cm", 2)), headers=auth(shopper))
    assert response.status_code == 201
    assert _cart_items(catalog, tokens, shopper) == []


def test_the_order_takes_only_what_it_bought_out_of_the_cart(client, auth, catalog, tokens):
    """A second tab added a cake after the checkout page was shown: it stays in the cart."""
    shopper = 4545
    for product_id, quantity in ((1, 3), (3, 1)):
        requests.post(f"{catalog.url}/api/cart", headers=tokens.headers(shopper), timeout=5,
                      json={"productId": product_id, "size": "12cm", "quantity": quantity})

    response = client.post("/api/orders", json=order_body((1, "12cm", 2)), headers=auth(shopper))

    assert response.status_code == 201
    left = _cart_items(catalog, tokens, shopper)
    assert [(i["productId"], i["quantity"]) for i in left] == [(1, 1), (3, 1)]


def test_admin_order_clears_the_customers_cart_with_the_admins_token(client, auth, catalog, tokens):
    shopper = 4343
    requests.post(f"{catalog.url}/api/cart", headers=tokens.headers(shopper), timeout=5,
                  json={"productId": 2, "size": "12cm", "quantity": 1})
    response = client.post("/api/orders", json=order_body((2, "12cm", 1), userId=shopper),
                           headers=auth(ADMIN, "ADMIN"))
    assert response.status_code == 201
    assert _cart_items(catalog, tokens, shopper) == []


def test_a_failing_cart_clear_never_fails_the_order(client, app, auth, catalog, caplog, monkeypatch):
    monkeypatch.setattr(catalog_client, "CLEAR_RETRY_DELAYS_S", ())
    catalog.faults.fail_cart_clear = True
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=auth(CUSTOMER))
    assert response.status_code == 201, response.get_json()
    assert ("POST", f"/api/cart/user/{CUSTOMER}/ordered") in catalog.faults.calls
    assert row_counts(app)["orders"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert "could not clear the cart" in messages
    assert "gave up clearing the cart after an order" in messages


def test_every_cart_clear_retry_names_the_order_and_the_request_that_placed_it(
        client, auth, catalog, caplog, monkeypatch):
    """The retries run in a timer thread, outside the request: on-call finds the cart to fix by the
    order id and the request id of the checkout."""
    monkeypatch.setattr(catalog_client, "CLEAR_RETRY_DELAYS_S", (0.05,))
    catalog.faults.fail_cart_clear = True
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)),
                           headers=auth(CUSTOMER, **{"X-Request-Id": "checkout-trace-1"}))
    assert response.status_code == 201, response.get_json()
    order_id = response.get_json()["id"]
    deadline = time.monotonic() + 5
    while "gave up clearing the cart after an order" not in [r.getMessage() for r in caplog.records]:
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.02)
    lines = [r for r in caplog.records if r.name == catalog_client.__name__ and "cart" in r.getMessage()]
    assert [(r.getMessage(), r.fields["retriesLeft"]) for r in lines] == [
        ("could not clear the cart", 1), ("could not clear the cart", 0),
        ("gave up clearing the cart after an order", 0)]
    assert {(r.fields["orderId"], r.fields["requestId"]) for r in lines} == {(order_id, "checkout-trace-1")}


def test_a_cart_the_catalog_could_not_clear_is_cleared_once_it_is_back(client, auth, catalog, tokens,
                                                                         monkeypatch):
    monkeypatch.setattr(catalog_client, "CLEAR_RETRY_DELAYS_S", (0.5, 1.0, 2.0))
    shopper = 4444
    requests.post(f"{catalog.url}/api/cart", headers=tokens.headers(shopper), timeout=5,
                  json={"productId": 1, "size": "12cm", "quantity": 2})
    catalog.faults.fail_cart_clear = True
    response = client.post("/api/orders", json=order_body((1, "12cm", 2)), headers=auth(shopper))
    assert response.status_code == 201, response.get_json()
    assert [i["productId"] for i in _cart_items(catalog, tokens, shopper)] == [1]  # not cleared yet
    # The shopper goes on shopping while the catalog is still failing the clear.
    requests.post(f"{catalog.url}/api/cart", headers=tokens.headers(shopper), timeout=5,
                  json={"productId": 3, "size": "12cm", "quantity": 1})
    catalog.faults.fail_cart_clear = False
    deadline = time.monotonic() + 5
    while [i["productId"] for i in _cart_items(catalog, tokens, shopper)] != [3]:
        assert time.monotonic() < deadline, _cart_items(catalog, tokens, shopper)
        time.sleep(0.05)
    clears = [call for call in catalog.faults.calls if call == ("POST", f"/api/cart/user/{shopper}/ordered")]
    assert 2 <= len(clears) <= 4  # the failed one, then background tries until one succeeds


def _cart_items(catalog, tokens, user_id: int) -> list:
    response = requests.get(f"{catalog.url}/api/cart/{user_id}", headers=tokens.headers(user_id),
                            timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["items"] if isinstance(body, dict) else body


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_price_lookup_the_catalog_cannot_answer_is_logged_with_why_and_how_long(
        make_app, orders_database, auth, catalog, capsys):
    down = make_app(orders_database, catalog_url=f"http://127.0.0.1:{_closed_port()}", catalog_retries=0)
    catalog.faults.price_delay_s = 1.0
    slow = make_app(orders_database, catalog_read_timeout=0.2, catalog_retries=0)
    for app, key in ((down, "down-logged"), (slow, "slow-logged")):
        response = app.test_client().post("/api/orders", json=order_body((1, "12cm", 1)),
                                          headers=auth(CUSTOMER, **{"Idempotency-Key": key}))
        assert_error(response, 503, "upstream_unavailable")
    # These apps were made in the test, so their JSON lines go to its captured stderr.
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    failures = [line for line in lines if line["message"] == "catalog price lookup failed: unavailable"]
    assert [(line["level"], line["errorClass"]) for line in failures] == [
        ("WARNING", "NewConnectionError"), ("WARNING", "ReadTimeoutError")]
    assert failures[1]["elapsedMs"] >= 200 and all(line["requestId"] for line in failures)


def test_catalog_down_is_503_and_nothing_written(make_app, orders_database, auth, events_file):
    app = make_app(orders_database, catalog_url=f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    response = app.test_client().post("/api/orders", json=order_body((1, "12cm", 1)),
                                      headers=auth(CUSTOMER, **{"Idempotency-Key": "down-1"}))
    assert_error(response, 503, "upstream_unavailable")
    assert time.monotonic() - started < 3
    assert row_counts(app) == NO_ROWS
    assert read_events(events_file) == []


def test_slow_catalog_is_503_within_the_configured_bound(make_app, orders_database, auth, catalog):
    catalog.faults.price_delay_s = 3.0
    app = make_app(orders_database, catalog_connect_timeout=0.5, catalog_read_timeout=0.3,
                   catalog_retries=1)
    started = time.monotonic()
    response = app.test_client().post("/api/orders", json=order_body((1, "12cm", 1)),
                                      headers=auth(CUSTOMER, **{"Idempotency-Key": "slow-1"}))
    elapsed = time.monotonic() - started
    assert_error(response, 503, "upstream_unavailable")
    # Two attempts of at most 0.3 s read each, plus a 0.1 s backoff.
    assert elapsed < 2.0, elapsed
    assert row_counts(app) == NO_ROWS
    prices_calls = [c for c in catalog.faults.calls if c[1] == "/api/products/prices"]
    assert len(prices_calls) == 2  # one retry, then give up


def test_after_the_catalog_recovers_the_same_key_places_the_order(make_app, orders_database, auth,
                                                                  catalog):
    down = make_app(orders_database, catalog_url=f"http://127.0.0.1:{_closed_port()}")
    headers = auth(CUSTOMER, **{"Idempotency-Key": "retry-after-outage"})
    assert down.test_client().post("/api/orders", json=order_body((1, "12cm", 1)),
                                   headers=headers).status_code == 503
    up = make_app(orders_database)
    response = up.test_client().post("/api/orders", json=order_body((1, "12cm", 1)), headers=headers)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers


@pytest.mark.parametrize("status, body", [
    ("500 INTERNAL SERVER ERROR", b'{"error": {"code": "internal_error"}}'),
    ("200 OK", b"<html>maintenance</html>"),
    ("200 OK", b'{"items": []}'),
    ("200 OK", b'{"items": [{"productId": 2, "size": "12cm", "available": true, "price": 1}]}'),
    ("200 OK", b'{"items": [{"productId": 1, "size": "12cm", "available": true, "price": null}]}'),
    ("200 OK", b'{"items": [{"productId": 1, "size": "12cm", "available": true, "price": -5, '
               b'"productName": "x"}]}'),
])
def test_a_catalog_answer_outside_the_contract_is_503_and_nothing_written(client, app, auth, catalog,
                                                                         status, body):
    catalog.faults.price_answer = (status, body)
    response = client.post("/api/orders", json=order_body((1, "12cm", 1)), headers=auth(CUSTOMER))
    assert_error(response, 503, "upstream_unavailable")
    assert row_counts(app) == NO_ROWS
