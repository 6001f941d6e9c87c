"""A cake added to a line after an order was placed still lets the order take what it bought off
that line; a quantity the shopper set after the order stays as set (README, Orders flow, step 7)."""

from datetime import datetime

import pytest

from tests.catalog.conftest import CUSTOMER

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def add(client, auth):
    def add_item(quantity):
        response = client.post("/api/cart", headers=auth(CUSTOMER),
                               json={"productId": 1, "size": "16cm", "quantity": quantity})
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()
    return add_item


def tell_ordered(client, auth, ordered_at: datetime, quantity: int) -> None:
    """What orders sends after placing an order for `quantity` of the line."""
    body = {"orderedAt": ordered_at.isoformat(),
            "items": [{"productId": 1, "size": "16cm", "quantity": quantity}]}
    response = client.post(f"/api/cart/user/{CUSTOMER}/ordered", json=body, headers=auth(CUSTOMER))
    assert response.status_code == 204, response.get_json()


def quantities(client, auth) -> list[int]:
    return [item["quantity"] for item in client.get(f"/api/cart/{CUSTOMER}", headers=auth(CUSTOMER))
            .get_json()["items"]]


def order_placed_after(line: dict) -> datetime:
    """An order placed at the moment the line last took its quantity: the order bought it."""
    return datetime.fromisoformat(line["updatedAt"])


def test_a_cake_added_after_the_order_stays_and_the_ordered_ones_go(client, auth, add):
    ordered_at = order_placed_after(add(2))
    merged = add(1)  # another tab, before the catalog hears of the order
    assert merged["quantity"] == 3
    for _ in range(2):  # orders' background retry after a lost answer takes nothing more
        tell_ordered(client, auth, ordered_at, 2)
    assert quantities(client, auth) == [1]


def test_an_add_leaves_the_moment_the_quantity_was_set(client, auth, add):
    first = add(2)
    merged = add(1)
    assert merged["updatedAt"] == first["updatedAt"]
    [line] = client.get(f"/api/cart/{CUSTOMER}", headers=auth(CUSTOMER)).get_json()["items"]
    assert (line["quantity"], line["updatedAt"]) == (3, first["updatedAt"])


@pytest.mark.parametrize("adds_first", [False, True])
def test_a_quantity_set_after_the_order_stays_as_set(client, auth, add, adds_first):
    line = add(2)
    ordered_at = order_placed_after(line)
    if adds_first:
        add(1)  # 3, then set to the 3 it shows: still the shopper's choice
    response = client.patch(f"/api/cart/{line['id']}", json={"quantity": 3}, headers=auth(CUSTOMER))
    assert response.status_code == 200
    tell_ordered(client, auth, ordered_at, 2)
    assert quantities(client, auth) == [3]


def test_a_line_created_after_the_order_stays(client, auth, add):
    line = add(2)
    ordered_at = order_placed_after(line)
    assert client.delete(f"/api/cart/{line['id']}", headers=auth(CUSTOMER)).status_code == 204
    add(1)
    tell_ordered(client, auth, ordered_at, 2)
    assert quantities(client, auth) == [1]
