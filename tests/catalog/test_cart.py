"""Carts: the caller's own, merged lines, quantities 1–99, current prices, safe under concurrency."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import text

from services.kit.api import ORDER_LINES_MAX
from tests.catalog.conftest import ADMIN, CUSTOMER, OTHER_CUSTOMER, error_fields
from tests.conftest import assert_error, live_server

ITEM_KEYS = {"id", "productId", "productName", "size", "unitPrice", "quantity", "lineTotal",
             "imageUrl", "available", "unavailableReason", "updatedAt"}


@pytest.fixture
def add(client, auth):
    def add_item(product_id=1, size="12cm", quantity=1, user_id=CUSTOMER):
        return client.post("/api/cart", headers=auth(user_id),
                           json={"productId": product_id, "size": size, "quantity": quantity})
    return add_item


def cart(client, auth, user_id=CUSTOMER, as_user=None, role="CUSTOMER"):
    response = client.get(f"/api/cart/{user_id}", headers=auth(as_user or user_id, role))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_add_then_read_the_cart(client, auth, add):
    added = add(1, "16cm", 2)
    assert added.status_code == 201
    item = added.get_json()
    assert set(item) == ITEM_KEYS
    assert datetime.fromisoformat(item["updatedAt"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert item | {"id": 0, "updatedAt": None} == {
        "id": 0, "updatedAt": None, "productId": 1, "productName": "Mousse Dâu", "size": "16cm",
        "unitPrice": 120000, "quantity": 2, "lineTotal": 240000, "imageUrl": "/api/images/mousse-dau.svg",
        "available": True, "unavailableReason": None}
    add(4, "1 cái", 3)
    body = cart(client, auth)
    assert body["userId"] == CUSTOMER
    assert [(i["productName"], i["size"], i["quantity"], i["lineTotal"]) for i in body["items"]] == [
        ("Mousse Dâu", "16cm", 2, 240000), ("Bánh Mì Ngọt Nhân Dừa", "1 cái", 3, 45000)]
    assert body["itemCount"] == 5 and body["subtotal"] == 285000


def test_an_empty_cart(client, auth):
    assert cart(client, auth, OTHER_CUSTOMER) == {"userId": OTHER_CUSTOMER, "items": [], "itemCount": 0,
                                                  "subtotal": 0}


def test_quantity_defaults_to_one(client, auth):
    response = client.post("/api/cart", headers=auth(CUSTOMER), json={"productId": 6, "size": "M"})
    assert response.status_code == 201 and response.get_json()["quantity"] == 1


def test_same_product_and_size_merge(client, auth, add):
    first = add(1, "12cm", 2).get_json()
    merged = add(1, "12cm", 3)
    assert merged.status_code == 200
    assert merged.get_json()["id"] == first["id"] and merged.get_json()["quantity"] == 5
    add(1, "16cm", 1)  # another size is another line
    assert [(i["size"], i["quantity"]) for i in cart(client, auth)["items"]] == [("12cm", 5), ("16cm", 1)]


def test_merging_past_99_is_422_and_changes_nothing(client, auth, add):
    assert add(1, "12cm", 60).status_code == 201
    assert add(1, "12cm", 39).get_json()["quantity"] == 99
    error = assert_error(add(1, "12cm", 1), 422, "validation_error")
    assert error["details"][0]["field"] == "quantity"
    assert cart(client, auth)["items"][0]["quantity"] == 99


@pytest.mark.parametrize("quantity", [0, -1, 100, "abc", "2", 1.5, 2.0, True, None, [], 10**30])
def test_bad_quantities_are_422(add, quantity):
    assert error_fields(add(1, "12cm", quantity)) == {"quantity"}


@pytest.mark.parametrize("body, field", [
    ({"size": "12cm"}, "productId"), ({"productId": 1}, "size"),
    ({"productId": "1", "size": "12cm"}, "productId"), ({"productId": 0, "size": "12cm"}, "productId"),
    ({"productId": 2**31, "size": "12cm"}, "productId"), ({"productId": 1, "size": ""}, "size"),
    ({"productId": 1, "size": "x" * 21}, "size"), ({"productId": 1, "size": 12}, "size"),
    ({"productId": 1, "size": "12cm", "price": 1}, "price"),
    ({"productId": 1, "size": "12cm", "userId": OTHER_CUSTOMER}, "userId"),
])
def test_bad_cart_bodies_are_422(client, auth, body, field):
    assert field in error_fields(client.post("/api/cart", json=body, headers=auth(CUSTOMER)))


def test_a_lone_surrogate_in_a_cart_body_is_422_not_500(client, auth):
    # json.dumps writes the escape, "\\ud800": valid JSON, but no UTF-8 text (it was a 500).
    body = json.dumps({"productId": 1, "size": "12\ud800cm"})
    response = client.post("/api/cart", data=body, content_type="application/json", headers=auth(CUSTOMER))
    assert error_fields(response) == {"size"}


def test_unknown_product_size_or_inactive_product_is_422(client, admin, add):
    assert assert_error(add(999, "12cm"), 422, "validation_error")["details"][0]["field"] == "productId"
    error = assert_error(add(4, "12cm"), 422, "validation_error")
    assert error["details"][0]["field"] == "size" and "Hộp 6 cái" in error["details"][0]["message"]
    client.patch("/api/products/2", json={"active": False}, headers=admin)
    assert assert_error(add(2, "12cm"), 422, "validation_error")["details"][0]["field"] == "productId"


def test_cart_needs_a_valid_token(client, tokens):
    body = {"productId": 1, "size": "12cm", "quantity": 1}
    assert_error(client.post("/api/cart", json=body), 401, "unauthorized")
    expired = {"Authorization": f"Bearer {tokens.token(CUSTOMER, exp=1)}"}
    assert_error(client.post("/api/cart", json=body, headers=expired), 401, "token_expired")
    assert_error(client.get(f"/api/cart/{CUSTOMER}"), 401, "unauthorized")
    assert_error(client.patch("/api/cart/1", json={"quantity": 1}), 401, "unauthorized")
    assert_error(client.delete("/api/cart/1"), 401, "unauthorized")
    assert_error(client.delete(f"/api/cart/user/{CUSTOMER}"), 401, "unauthorized")
    report = {"orderedAt": "2026-11-24T10:00:00Z", "items": [{"productId": 1, "size": "12cm", "quantity": 1}]}
    assert_error(client.post(f"/api/cart/user/{CUSTOMER}/ordered", json=report), 401, "unauthorized")
    assert_error(client.post(f"/api/cart/user/{CUSTOMER}/ordered", json=report, headers=expired),
                 401, "token_expired")


def test_another_customers_cart_is_403(client, auth, add):
    add(1, "12cm", 1)
    assert_error(client.get(f"/api/cart/{CUSTOMER}", headers=auth(OTHER_CUSTOMER)), 403, "forbidden")
    assert_error(client.delete(f"/api/cart/user/{CUSTOMER}", headers=auth(OTHER_CUSTOMER)),
                 403, "forbidden")
    assert cart(client, auth)["itemCount"] == 1


def test_admins_can_read_and_clear_any_cart(client, auth, add):
    add(1, "12cm", 2)
    assert cart(client, auth, CUSTOMER, as_user=ADMIN, role="ADMIN")["itemCount"] == 2
    assert client.delete(f"/api/cart/user/{CUSTOMER}", headers=auth(ADMIN, "ADMIN")).status_code == 204
    assert cart(client, auth)["items"] == []


def test_update_quantity(client, auth, add):
    item = add(1, "12cm", 2).get_json()
    response = client.patch(f"/api/cart/{item['id']}", json={"quantity": 7}, headers=auth(CUSTOMER))
    assert response.status_code == 200
    assert response.get_json()["quantity"] == 7 and response.get_json()["lineTotal"] == 630000
    assert cart(client, auth)["subtotal"] == 630000


@pytest.mark.parametrize("body", [{"quantity": 0}, {"quantity": -1}, {"quantity": 100},
                                  {"quantity": "abc"}, {"quantity": 2.5}, {}, {"quantity": None}])
def test_update_quantity_validation(client, auth, add, body):
    item = add(1, "12cm", 2).get_json()
    response = client.patch(f"/api/cart/{item['id']}", json=body, headers=auth(CUSTOMER))
    assert error_fields(response) == {"quantity"}


def test_only_the_owner_changes_a_line(client, auth, add):
    item = add(1, "12cm", 2).get_json()
    for headers in (auth(OTHER_CUSTOMER), auth(ADMIN, "ADMIN")):
        assert_error(client.patch(f"/api/cart/{item['id']}", json={"quantity": 1}, headers=headers),
                     403, "forbidden")
        assert_error(client.delete(f"/api/cart/{item['id']}", headers=headers), 403, "forbidden")
    assert cart(client, auth)["items"][0]["quantity"] == 2


@pytest.mark.parametrize("item_id", [999, 2147483647])
def test_unknown_line_is_404(client, auth, item_id):
    assert_error(client.patch(f"/api/cart/{item_id}", json={"quantity": 1}, headers=auth(CUSTOMER)),
                 404, "not_found")
    assert_error(client.delete(f"/api/cart/{item_id}", headers=auth(CUSTOMER)), 404, "not_found")


def test_path_ids_that_cannot_exist_are_404(client, auth):
    for path in ("/api/cart/2147483648", "/api/cart/abc", "/api/cart/-1", "/api/cart/user/abc"):
        assert_error(client.get(path, headers=auth(CUSTOMER)), 404, "not_found")


def test_remove_a_line(client, auth, add):
    item = add(1, "12cm", 2).get_json()
    add(3, "12cm", 1)
    assert client.delete(f"/api/cart/{item['id']}", headers=auth(CUSTOMER)).status_code == 204
    assert [i["productId"] for i in cart(client, auth)["items"]] == [3]
    assert_error(client.delete(f"/api/cart/{item['id']}", headers=auth(CUSTOMER)), 404, "not_found")


def test_clear_own_cart_twice(client, auth, add):
    add(1, "12cm", 2)
    for _ in range(2):
        assert client.delete(f"/api/cart/user/{CUSTOMER}", headers=auth(CUSTOMER)).status_code == 204
    assert cart(client, auth)["items"] == []
    assert add(1, "12cm", 1).status_code == 201  # a fresh cart afterwards


def test_clear_before_a_moment_keeps_the_lines_changed_after_it(client, auth, add):
    add(1, "12cm", 2)
    line = add(3, "12cm", 1).get_json()
    time.sleep(0.01)
    ordered_at = datetime.now(UTC)  # what orders sends: the lines it ordered were changed before
    time.sleep(0.01)
    # Set after the order: a new choice, not what was ordered.
    client.patch(f"/api/cart/{line['id']}", json={"quantity": 2}, headers=auth(CUSTOMER))
    add(4, "1 cái", 1)  # added after the order
    in_vietnam = ordered_at.astimezone(timezone(timedelta(hours=7))).isoformat()
    response = client.delete(f"/api/cart/user/{CUSTOMER}", query_string={"before": in_vietnam},
                             headers=auth(CUSTOMER))
    assert response.status_code == 204
    assert [(i["productId"], i["quantity"]) for i in cart(client, auth)["items"]] == [(3, 2), (4, 1)]


def ordered(client, auth, lines, ordered_at=None, user_id=CUSTOMER, as_user=None, role="CUSTOMER"):
    """What orders sends after an order: the lines it bought, and when."""
    body = {"orderedAt": (ordered_at or datetime.now(UTC)).isoformat(),
            "items": [{"productId": product_id, "size": size, "quantity": quantity}
                      for product_id, size, quantity in lines]}
    return client.post(f"/api/cart/user/{user_id}/ordered", json=body, headers=auth(as_user or user_id, role))


def lines(client, auth, user_id=CUSTOMER):
    return [(i["productId"], i["size"], i["quantity"]) for i in cart(client, auth, user_id)["items"]]


def test_an_order_takes_only_what_it_bought_out_of_the_cart(client, auth, add):
    add(1, "12cm", 3)  # 2 of 3 ordered
    add(3, "12cm", 1)  # all ordered
    add(4, "1 cái", 2)  # not in the order: another tab added it after the checkout page was shown
    response = ordered(client, auth, [(1, "12cm", 2), (3, "12cm", 1)])
    assert response.status_code == 204
    assert lines(client, auth) == [(1, "12cm", 1), (4, "1 cái", 2)]


def test_one_cake_and_size_twice_in_an_order_comes_off_its_line_once_in_full(client, auth, add):
    add(1, "12cm", 5)
    assert ordered(client, auth, [(1, "12cm", 1), (1, "12cm", 2)]).status_code == 204
    assert lines(client, auth) == [(1, "12cm", 2)]


def test_an_order_keeps_lines_changed_after_it(client, auth, add):
    line = add(1, "12cm", 2).get_json()
    time.sleep(0.01)
    ordered_at = datetime.now(UTC)
    time.sleep(0.01)
    # Set after the order: the shopper's new choice stands as it is (an add does not: see
    # test_cart_added_after_order.py).
    client.patch(f"/api/cart/{line['id']}", json={"quantity": 3}, headers=auth(CUSTOMER))
    in_vietnam = ordered_at.astimezone(timezone(timedelta(hours=7)))
    assert ordered(client, auth, [(1, "12cm", 2)], ordered_at=in_vietnam).status_code == 204
    assert lines(client, auth) == [(1, "12cm", 3)]


def test_telling_the_cart_twice_takes_the_order_off_once(client, auth, add):
    """Orders retries when it gets no answer; the first call may have gone through."""
    add(1, "12cm", 5)
    ordered_at = datetime.now(UTC) + timedelta(seconds=2)  # orders' clock may run ahead of ours
    for _ in range(2):
        assert ordered(client, auth, [(1, "12cm", 2)], ordered_at=ordered_at).status_code == 204
    assert lines(client, auth) == [(1, "12cm", 3)]


def test_ordering_keeps_deactivated_and_unknown_lines(client, auth, admin, add):
    add(1, "12cm", 1)
    add(3, "12cm", 1)
    client.patch("/api/products/3", json={"active": False}, headers=admin)
    assert ordered(client, auth, [(1, "12cm", 1), (2, "12cm", 1), (1, "Nope", 1)]).status_code == 204
    assert lines(client, auth) == [(3, "12cm", 1)]


def test_ordering_from_an_empty_or_missing_cart_is_fine(client, auth):
    assert ordered(client, auth, [(1, "12cm", 1)], user_id=OTHER_CUSTOMER).status_code == 204


def test_only_the_customer_or_an_admin_tells_the_cart(client, auth, add):
    add(1, "12cm", 2)
    assert_error(ordered(client, auth, [(1, "12cm", 2)], as_user=OTHER_CUSTOMER), 403, "forbidden")
    assert lines(client, auth) == [(1, "12cm", 2)]
    assert ordered(client, auth, [(1, "12cm", 2)], as_user=ADMIN, role="ADMIN").status_code == 204
    assert lines(client, auth) == []


@pytest.mark.parametrize("body", [
    {"items": [{"productId": 1, "size": "12cm", "quantity": 1}]},
    {"orderedAt": "2026-11-24T10:00:00", "items": [{"productId": 1, "size": "12cm", "quantity": 1}]},
    {"orderedAt": "2026-11-24T10:00:00Z", "items": []},
    {"orderedAt": "2026-11-24T10:00:00Z", "items": [{"productId": 1, "size": "12cm", "quantity": 0}]},
    {"orderedAt": "2026-11-24T10:00:00Z", "items": [{"productId": "1", "size": "12cm", "quantity": 1}]},
    {"orderedAt": "2026-11-24T10:00:00Z", "items": [{"productId": 1, "size": "x" * 21, "quantity": 1}]},
    {"orderedAt": "2026-11-24T10:00:00Z", "items": [{"productId": 2**40, "size": "12cm", "quantity": 1}]},
    {"orderedAt": "2026-11-24T10:00:00Z",
     "items": [{"productId": 1, "size": "12cm", "quantity": 1}] * 101},
])
def test_a_malformed_order_report_is_refused_and_changes_nothing(client, auth, add, body):
    add(1, "12cm", 1)
    response = client.post(f"/api/cart/user/{CUSTOMER}/ordered", json=body, headers=auth(CUSTOMER))
    assert_error(response, 422, "validation_error")
    assert lines(client, auth) == [(1, "12cm", 1)]


@pytest.mark.parametrize("before", ["2026-11-24T10:00:00", "yesterday", "99999-01-01T00:00:00Z", ""])
def test_clear_before_needs_a_moment_with_an_offset(client, auth, add, before):
    add(1, "12cm", 1)
    response = client.delete(f"/api/cart/user/{CUSTOMER}", query_string={"before": before},
                             headers=auth(CUSTOMER))
    assert_error(response, 422, "validation_error")
    assert len(cart(client, auth)["items"]) == 1  # nothing removed


# Parsed fine, but past the calendar once moved to UTC or by a microsecond: they were 500s.
BEYOND_THE_CALENDAR = ["9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00+14:00",
                       "9999-12-31T23:59:59.999999-14:00", "0001-01-01T00:00:00Z"]


@pytest.mark.parametrize("moment", BEYOND_THE_CALENDAR)
def test_an_order_report_from_beyond_the_calendar_is_422_and_changes_nothing(client, auth, add, moment):
    add(1, "12cm", 1)
    body = {"orderedAt": moment, "items": [{"productId": 1, "size": "12cm", "quantity": 1}]}
    response = client.post(f"/api/cart/user/{CUSTOMER}/ordered", json=body, headers=auth(CUSTOMER))
    assert error_fields(response) == {"orderedAt"}
    assert lines(client, auth) == [(1, "12cm", 1)]


@pytest.mark.parametrize("before", BEYOND_THE_CALENDAR)
def test_clear_before_a_moment_beyond_the_calendar_is_422(client, auth, add, before):
    add(1, "12cm", 1)
    response = client.delete(f"/api/cart/user/{CUSTOMER}", query_string={"before": before},
                             headers=auth(CUSTOMER))
    assert error_fields(response) == {"before"}
    assert lines(client, auth) == [(1, "12cm", 1)]


def test_moments_at_the_ends_of_the_accepted_range_are_fine(client, auth, add):
    add(1, "12cm", 1)
    long_ago = {"orderedAt": "0002-01-01T00:00:00+14:00",
                "items": [{"productId": 1, "size": "12cm", "quantity": 1}]}
    response = client.post(f"/api/cart/user/{CUSTOMER}/ordered", json=long_ago, headers=auth(CUSTOMER))
    assert response.status_code == 204  # the line was changed after it: kept
    response = client.delete(f"/api/cart/user/{CUSTOMER}",
                             query_string={"before": "9998-12-31T23:59:59.999999-14:00"},
                             headers=auth(CUSTOMER))
    assert response.status_code == 204
    assert lines(client, auth) == []


def test_cart_shows_current_prices_and_leaves_out_inactive_products(client, auth, admin, add):
    add(1, "12cm", 2)
    add(3, "12cm", 1)
    client.patch("/api/products/1/sizes/1", json={"price": 100000}, headers=admin)
    client.patch("/api/products/3", json={"active": False}, headers=admin)
    body = cart(client, auth)
    assert [(i["productId"], i["unitPrice"], i["available"]) for i in body["items"]] == [
        (1, 100000, True), (3, 80000, False)]
    assert body["itemCount"] == 2 and body["subtotal"] == 200000


def _admin_size(client, admin, product_id: int, label: str) -> dict:
    sizes = client.get(f"/api/products/{product_id}", headers=admin).get_json()["sizes"]
    return next(s for s in sizes if s["size"] == label)


REPRESENTATION = {"Prefer": "return=representation"}


def test_a_removed_size_stays_in_carts_unavailable_and_cannot_be_ordered(client, auth, admin, add):
    def choices():
        return {c["size"]: c["productCount"] for c in client.get("/api/products/sizes").get_json()["items"]}

    add(1, "12cm", 2)
    add(1, "20cm", 1)
    add(1, "12cm", 1, user_id=OTHER_CUSTOMER)
    before = choices()
    twelve = _admin_size(client, admin, 1, "12cm")
    assert twelve["cartCount"] == 2  # what the admin is told before removing it
    assert _admin_size(client, admin, 1, "16cm")["cartCount"] == 0
    removed = client.delete(f"/api/products/1/sizes/{twelve['id']}", headers={**admin, **REPRESENTATION})
    assert removed.status_code == 200
    assert removed.get_json() == {"id": twelve["id"], "size": "12cm", "price": 90000, "cartCount": 2}

    body = cart(client, auth)
    assert [(i["size"], i["quantity"], i["available"], i["unavailableReason"]) for i in body["items"]] == [
        ("12cm", 2, False, "size_removed"), ("20cm", 1, True, None)]
    assert body["itemCount"] == 1 and body["subtotal"] == 160000
    # Gone from the catalog: product reads, prices, size filters and choices, adds, the price lookup.
    product = client.get("/api/products/1").get_json()
    assert [s["size"] for s in product["sizes"]] == ["16cm", "20cm"] and product["minPrice"] == 120000
    assert choices()["12cm"] == before["12cm"] - 1
    cheap = client.get("/api/products?size=12cm&maxPrice=90000&pageSize=100").get_json()["items"]
    assert 1 not in [p["id"] for p in cheap]
    assert error_fields(add(1, "12cm", 1)) == {"size"}
    [line] = client.post("/api/products/prices", json={"items": [{"productId": 1, "size": "12cm"}]}
                         ).get_json()["items"]
    assert (line["available"], line["reason"], line["price"]) == (False, "unknown_size", None)
    # The shopper can still take the line out.
    gone = client.delete(f"/api/cart/{body['items'][0]['id']}", headers=auth(CUSTOMER))
    assert gone.status_code == 204
    assert [i["size"] for i in cart(client, auth)["items"]] == ["20cm"]


def test_a_removed_label_can_be_added_again_as_a_new_size(client, auth, admin, add):
    add(1, "20cm", 2)
    old = _admin_size(client, admin, 1, "20cm")
    removed = client.delete(f"/api/products/1/sizes/{old['id']}", headers=admin)
    assert removed.status_code == 204 and removed.data == b""  # no count unless asked for
    assert_error(client.delete(f"/api/products/1/sizes/{old['id']}", headers=admin), 404, "not_found")
    assert_error(client.patch(f"/api/products/1/sizes/{old['id']}", json={"price": 1}, headers=admin),
                 404, "not_found")
    again = client.post("/api/products/1/sizes", json={"size": "20cm", "price": 170000}, headers=admin)
    assert again.status_code == 201 and again.get_json()["id"] != old["id"]
    assert_error(client.post("/api/products/1/sizes", json={"size": "20CM", "price": 1}, headers=admin),
                 409, "conflict")
    [line] = client.post("/api/products/prices", json={"items": [{"productId": 1, "size": "20cm"}]}
                         ).get_json()["items"]
    assert (line["available"], line["price"]) == (True, 170000)
    # The old line stays unavailable; adding the size again makes a line of its own.
    assert add(1, "20cm", 1).status_code == 201
    assert [(i["unitPrice"], i["quantity"], i["available"]) for i in cart(client, auth)["items"]] == [
        (160000, 2, False), (170000, 1, True)]
    # An order of the new size takes its line, never the unavailable one.
    ordered = {"orderedAt": datetime.now(UTC).isoformat(),
               "items": [{"productId": 1, "size": "20cm", "quantity": 1}]}
    assert client.post(f"/api/cart/user/{CUSTOMER}/ordered", json=ordered,
                       headers=auth(CUSTOMER)).status_code == 204
    assert [(i["unitPrice"], i["available"]) for i in cart(client, auth)["items"]] == [(160000, False)]
    # Removed sizes do not count as the product's sizes: its last one on sale stays.
    for label in ("12cm", "16cm"):
        size = _admin_size(client, admin, 1, label)
        assert client.delete(f"/api/products/1/sizes/{size['id']}", headers=admin).status_code == 204
    assert_error(client.delete(f"/api/products/1/sizes/{again.get_json()['id']}", headers=admin),
                 409, "conflict")


def _simultaneous_adds(app, tokens, *, count: int, quantity: int) -> tuple[list[int], dict]:
    """`count` adds of the same cake and size at once, on a live server: their sorted statuses and
    the cart afterwards."""
    with live_server(app) as url:
        def add(_):
            return requests.post(f"{url}/api/cart", headers=tokens.headers(CUSTOMER), timeout=30,
                                 json={"productId": 1, "size": "12cm", "quantity": quantity})
        with ThreadPoolExecutor(max_workers=count) as pool:
            statuses = sorted(r.status_code for r in pool.map(add, range(count)))
        cart = requests.get(f"{url}/api/cart/{CUSTOMER}", headers=tokens.headers(CUSTOMER), timeout=5).json()
    return statuses, cart


def test_simultaneous_adds_of_the_same_line_merge(app, tokens):
    """Eight requests at once for the same cake and size: one line, every quantity counted."""
    statuses, cart = _simultaneous_adds(app, tokens, count=8, quantity=2)
    assert statuses == [200] * 7 + [201]
    assert [(i["size"], i["quantity"]) for i in cart["items"]] == [("12cm", 16)]


def test_simultaneous_adds_past_the_cap_never_exceed_99(app, tokens):
    statuses, cart = _simultaneous_adds(app, tokens, count=4, quantity=40)
    assert statuses == [200, 201, 422, 422]
    assert cart["items"][0]["quantity"] == 80


# PostgreSQL only, as on AWS: SQLite has no row locks, and the local default keeps this narrow race.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_add_racing_a_size_removal_waits_for_it_and_is_refused(app, client, auth, admin):
    """The removal holds the size row; an add arriving meanwhile must not put a line the removal's
    cart count missed into a cart as available."""
    engine = app.extensions["db"].engine
    size = _admin_size(client, admin, 1, "12cm")
    results = []
    with engine.connect() as removal:
        removal.execute(text("UPDATE product_sizes SET removed_at = now() WHERE id = :id"),
                        {"id": size["id"]})
        adding = threading.Thread(target=lambda: results.append(client.post(
            "/api/cart", json={"productId": 1, "size": "12cm", "quantity": 1}, headers=auth(CUSTOMER))))
        adding.start()
        adding.join(timeout=1)
        assert adding.is_alive()  # waiting for the removal
        removal.commit()
    adding.join(timeout=10)
    assert error_fields(results[0]) == {"size"}
    assert cart(client, auth)["items"] == []


# PostgreSQL only: SQLite has no row locks.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_size_removal_and_an_add_holding_its_size_do_not_deadlock(app, client, auth, admin, add):
    """The add holds the size row (FOR SHARE), the removal locks the product and waits for the size;
    the add's new line then checks its product key. With the product FOR UPDATE that was a deadlock
    (both 503); the removal now takes the product FOR NO KEY UPDATE, so the add finishes first."""
    engine = app.extensions["db"].engine
    size = _admin_size(client, admin, 1, "12cm")
    assert add(2, "12cm").status_code == 201  # the customer's cart exists
    results = []
    with engine.connect() as adding:
        adding.execute(text("SELECT id FROM product_sizes WHERE id = :id FOR SHARE"), {"id": size["id"]})
        removing = threading.Thread(target=lambda: results.append(
            client.delete(f"/api/products/1/sizes/{size['id']}", headers=admin)))
        removing.start()
        time.sleep(0.5)  # the removal holds the product and waits for the size
        assert removing.is_alive()
        adding.execute(text(
            "INSERT INTO cart_items (cart_id, product_id, size_id, quantity, created_at, updated_at) "
            "SELECT id, 1, :size, 1, now(), now() FROM carts WHERE customer_id = :customer"),
            {"size": size["id"], "customer": CUSTOMER})
        adding.commit()
    removing.join(timeout=10)
    assert results[0].status_code == 204, results[0].get_json()


def _many_lines(client, admin, count: int) -> list[tuple[int, str]]:
    """`count` (product, size) pairs on sale: new products of 20 sizes each."""
    pairs = []
    while len(pairs) < count:
        made = client.post("/api/products", headers=admin, json={
            "name": f"Bánh thử {len(pairs)}", "categoryId": 4,
            "sizes": [{"size": f"Cỡ {i}", "price": 1000} for i in range(20)]})
        assert made.status_code == 201, made.get_json()
        pairs += [(made.get_json()["id"], f"Cỡ {i}") for i in range(20)]
    return pairs[:count]


def test_a_cart_holds_as_many_lines_as_one_order_takes(client, auth, admin, add):
    """Orders take at most ORDER_LINES_MAX lines: a cart with more could never be checked out."""
    *first, extra = _many_lines(client, admin, ORDER_LINES_MAX + 1)
    assert {add(product_id, size).status_code for product_id, size in first} == {201}
    refused = add(*extra)
    assert_error(refused, 409, "cart_full")
    assert refused.get_json()["error"]["details"] == {"maxLines": ORDER_LINES_MAX}
    assert add(*first[0]).status_code == 200  # more of a line it holds still fits
    assert len(cart(client, auth)["items"]) == ORDER_LINES_MAX


# PostgreSQL only, as on AWS: SQLite has no row locks (its writes take turns anyway).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_new_lines_at_once_cannot_both_take_a_carts_last_free_line(app, client, auth, admin, add, tokens):
    *first, one, other = _many_lines(client, admin, ORDER_LINES_MAX + 1)
    assert {add(product_id, size).status_code for product_id, size in first} == {201}
    with live_server(app) as url, ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(lambda pair: requests.post(
            f"{url}/api/cart", headers=tokens.headers(CUSTOMER), timeout=30,
            json={"productId": pair[0], "size": pair[1], "quantity": 1}).status_code, [one, other]))
    assert statuses == [201, 409]
    assert len(cart(client, auth)["items"]) == ORDER_LINES_MAX
