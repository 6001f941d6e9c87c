"""A line no longer on sale (size removed, product deactivated) refuses a new quantity with 409
`not_on_sale`: it is never ordered, so a quantity would only look as if it counted."""

import pytest

from tests.catalog.conftest import CUSTOMER
from tests.conftest import assert_error


def _size_id(client, admin, product_id: int, label: str) -> int:
    sizes = client.get(f"/api/products/{product_id}", headers=admin).get_json()["sizes"]
    return next(size["id"] for size in sizes if size["size"] == label)


def _remove_size(client, admin):
    assert client.delete(f"/api/products/2/sizes/{_size_id(client, admin, 2, '12cm')}",
                         headers=admin).status_code == 204


def _deactivate(client, admin):
    assert client.patch("/api/products/2", json={"active": False}, headers=admin).status_code == 200


@pytest.mark.parametrize(("take_off_sale", "reason"), [(_remove_size, "size_removed"),
                                                       (_deactivate, "inactive")])
def test_a_line_no_longer_on_sale_refuses_a_new_quantity(client, auth, admin, take_off_sale, reason):
    line = client.post("/api/cart", headers=auth(CUSTOMER),
                       json={"productId": 2, "size": "12cm", "quantity": 1}).get_json()
    take_off_sale(client, admin)

    error = assert_error(client.patch(f"/api/cart/{line['id']}", json={"quantity": 3},
                                      headers=auth(CUSTOMER)), 409, "not_on_sale")
    assert error["details"] == {"reason": reason}
    [kept] = client.get(f"/api/cart/{CUSTOMER}", headers=auth(CUSTOMER)).get_json()["items"]
    assert (kept["quantity"], kept["updatedAt"], kept["available"]) == (1, line["updatedAt"], False)
    # Removing it still works.
    assert client.delete(f"/api/cart/{line['id']}", headers=auth(CUSTOMER)).status_code == 204
