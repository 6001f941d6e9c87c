"""An admin removes a size a shopper has in the cart: the line stays, shown as no longer on sale,
and is never ordered; the admin is told how many carts hold the size before removing it."""

from __future__ import annotations

import re

from .helpers import Browserless


def _checkout_fields(html: str) -> list[tuple[str, str]]:
    """What the checkout form submits (its hidden fields), as a tab left open would send them."""
    form = html.split('id="checkout-form"', 1)[1].split("</form>", 1)[0]
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)


def test_a_size_removed_while_in_a_cart_stays_there_unavailable_and_is_not_ordered(stack, admin):
    product = stack.api("POST", "/api/products", stack.admin_token(), json={
        "name": "Bánh Bỏ Cỡ", "categoryId": stack.api("GET", "/api/categories").json()["items"][0]["id"],
        "sizes": [{"size": "12cm", "price": 90000}, {"size": "20cm", "price": 160000}]}).json()
    twenty = next(size for size in product["sizes"] if size["size"] == "20cm")
    shopper = stack.register(name="Lan Trần")
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    for size in ("20cm", "12cm"):
        added = client.form_post(f"/products/{product['id']}", "/cart/add",
                                 {"productId": product["id"], "size": size, "quantity": 1})
        assert added.status_code == 302
    open_tab = _checkout_fields(client.get("/checkout").text)

    edit = f"/admin/products/{product['id']}"
    assert "1 giỏ hàng đang có cỡ này; khách sẽ thấy cỡ này không còn bán và không thể đặt." in \
        admin.get(edit).text
    removed = admin.form_post(edit, f"{edit}/sizes/{twenty['id']}/delete", {"was_size": "20cm"})
    assert removed.status_code == 302
    assert "Đã xóa kích cỡ 20cm; 1 giỏ hàng đang có cỡ này sẽ thấy cỡ này không còn bán." in \
        admin.get(edit).text

    # The tab opened before: refused, saying which cake is no longer on sale; nothing ordered.
    again = client.post("/checkout", data=[*open_tab, ("shippingAddress", "5 Hai Bà Trưng")])
    assert again.status_code == 409
    assert ("Giỏ hàng đã thay đổi: Bánh Bỏ Cỡ (cỡ 20cm) không còn bán nên không có trong đơn. "
            "Vui lòng xem lại và xác nhận lần nữa.") in again.text
    orders = stack.api("GET", f"/api/orders/user/{shopper['user']['id']}", shopper["token"]).json()
    assert orders["orders"] == []
    assert [value for name, value in _checkout_fields(again.text) if name == "size"] == ["12cm"]

    cart = client.get("/cart").text
    assert "Cỡ 20cm không còn bán — không tính vào đơn." in cart
    assert "Sản phẩm đã ngừng bán" not in cart
    assert '<dd data-testid="subtotal">90.000 ₫</dd>' in cart

    [gone] = [line for line in stack.api("GET", f"/api/cart/{shopper['user']['id']}",
                                         shopper["token"]).json()["items"] if not line["available"]]
    assert client.form_post("/cart", f"/cart/items/{gone['id']}/delete", {}).status_code == 302
    assert "không còn bán" not in client.get("/cart").text


def test_a_catalog_from_before_cart_counts_still_gets_a_plain_message(stack, admin, monkeypatch):
    """Mid-deploy an older catalog task may answer the removal 204, without a body."""
    product = stack.api("POST", "/api/products", stack.admin_token(), json={
        "name": "Bánh Hai Cỡ Cũ", "categoryId": stack.api("GET", "/api/categories").json()["items"][0]["id"],
        "sizes": [{"size": "12cm", "price": 90000}, {"size": "20cm", "price": 160000}]}).json()
    api = stack.storefront_app.extensions["storefront_api"]
    real_delete = api.delete

    def old_catalog(path, **kwargs):
        real_delete(path)
        return None

    monkeypatch.setattr(api, "delete", old_catalog)
    edit = f"/admin/products/{product['id']}"
    removed = admin.form_post(edit, f"{edit}/sizes/{product['sizes'][0]['id']}/delete",
                              {"was_size": product["sizes"][0]["size"]})
    assert removed.status_code == 302
    assert "Đã xóa kích cỡ." in admin.get(edit).text
