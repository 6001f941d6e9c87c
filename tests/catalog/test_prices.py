"""The batch price lookup the orders service depends on (contract fixed in the brief)."""

import json

import pytest

from tests.catalog.conftest import error_fields

KEYS = {"productId", "size", "available", "reason", "productName", "categoryId", "category", "price"}


def lookup(client, *lines):
    response = client.post("/api/products/prices",
                           json={"items": [{"productId": pid, "size": size} for pid, size in lines]})
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert all(set(item) == KEYS for item in items)
    return items


def test_prices_in_request_order_with_reasons(client, admin):
    client.patch("/api/products/2", json={"active": False}, headers=admin)
    items = lookup(client, (4, "Hộp 6 cái"), (999, "12cm"), (1, "30cm"), (2, "12cm"), (1, "12cm"),
                   (4, "Hộp 6 cái"))
    assert items == [
        {"productId": 4, "size": "Hộp 6 cái", "available": True, "reason": None,
         "productName": "Bánh Mì Ngọt Nhân Dừa", "categoryId": 4, "category": "Bánh Nướng", "price": 80000},
        {"productId": 999, "size": "12cm", "available": False, "reason": "unknown_product",
         "productName": None, "categoryId": None, "category": None, "price": None},
        {"productId": 1, "size": "30cm", "available": False, "reason": "unknown_size",
         "productName": "Mousse Dâu", "categoryId": 1, "category": "Bánh Mousse", "price": None},
        {"productId": 2, "size": "12cm", "available": False, "reason": "inactive",  # hidden, as from a 404
         "productName": None, "categoryId": None, "category": None, "price": None},
        {"productId": 1, "size": "12cm", "available": True, "reason": None,
         "productName": "Mousse Dâu", "categoryId": 1, "category": "Bánh Mousse", "price": 90000},
        {"productId": 4, "size": "Hộp 6 cái", "available": True, "reason": None,
         "productName": "Bánh Mì Ngọt Nhân Dừa", "categoryId": 4, "category": "Bánh Nướng", "price": 80000},
    ]


def test_prices_follow_admin_edits(client, admin):
    client.patch("/api/products/1/sizes/1", json={"price": 99000}, headers=admin)
    assert lookup(client, (1, "12cm"))[0]["price"] == 99000


def test_size_labels_match_exactly(client):
    assert lookup(client, (1, "12CM"), (1, " 12cm"))[0]["reason"] == "unknown_size"


def test_a_hundred_lines_are_fine(client):
    items = lookup(client, *[(1 + i % 16, "12cm") for i in range(100)])
    assert len(items) == 100


def test_no_token_needed_and_a_bad_one_is_ignored(client):
    response = client.post("/api/products/prices", json={"items": [{"productId": 1, "size": "12cm"}]},
                           headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"items": []}, "items"),
    ({"items": [{"productId": 1, "size": "12cm"}] * 101}, "items"),
    ({}, "items"),
    ({"items": [{"productId": "1", "size": "12cm"}]}, "items.0.productId"),
    ({"items": [{"productId": 0, "size": "12cm"}]}, "items.0.productId"),
    ({"items": [{"productId": 2**31, "size": "12cm"}]}, "items.0.productId"),
    ({"items": [{"productId": True, "size": "12cm"}]}, "items.0.productId"),
    ({"items": [{"productId": 1}]}, "items.0.size"),
    ({"items": [{"productId": 1, "size": ""}]}, "items.0.size"),
    ({"items": [{"productId": 1, "size": 12}]}, "items.0.size"),
    ({"items": [{"productId": 1, "size": "x" * 101}]}, "items.0.size"),
    ({"items": [{"productId": 1, "size": "12cm", "price": 1}]}, "items.0.price"),
    ({"items": "all"}, "items"),
])
def test_bad_lookups_are_422(client, body, field):
    assert field in error_fields(client.post("/api/products/prices", json=body))


@pytest.mark.parametrize("line, field", [({"productId": 1, "size": "\ud800"}, "items.0.size"),
                                         ({"productId": 1, "size": "12cm", "\udfff": 1}, "items.0")])
def test_a_lone_surrogate_in_a_lookup_is_422_not_500(client, line, field):
    # json.dumps writes the escape ("\\ud800"): valid JSON, but no UTF-8 text (it was a 500).
    response = client.post("/api/products/prices", data=json.dumps({"items": [line]}),
                           content_type="application/json")
    assert error_fields(response) == {field}
