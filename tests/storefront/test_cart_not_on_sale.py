"""Changing the quantity of a cart line no longer on sale is refused with a Vietnamese message, and
the line keeps its quantity (it can still be removed)."""

from __future__ import annotations

from .helpers import Browserless, flashes


def test_a_new_quantity_for_a_size_no_longer_sold_is_refused(stack):
    admin_token = stack.admin_token()
    product = stack.api("POST", "/api/products", admin_token, json={
        "name": "Tiramisu Hết Cỡ", "categoryId": stack.api("GET", "/api/categories").json()["items"][0]["id"],
        "sizes": [{"size": "12cm", "price": 100000}, {"size": "20cm", "price": 180000}]}).json()
    twelve = next(size for size in product["sizes"] if size["size"] == "12cm")
    shopper = stack.register()
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    client.form_post(f"/products/{product['id']}", "/cart/add",
                     {"productId": product["id"], "size": "12cm", "quantity": 1})
    [line] = stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()["items"]
    assert stack.api("DELETE", f"/api/products/{product['id']}/sizes/{twelve['id']}",
                     admin_token).status_code == 204

    changed = client.form_post("/cart", f"/cart/items/{line['id']}", {"quantity": 3})
    assert changed.status_code == 302
    cart = client.get("/cart").text
    assert flashes(cart) == ["Bánh này không còn bán nên không thể đổi số lượng; "
                             "bạn có thể xóa khỏi giỏ hàng."]
    assert "300.000 ₫" not in cart
    [kept] = stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()["items"]
    assert (kept["quantity"], kept["available"]) == (1, False)
