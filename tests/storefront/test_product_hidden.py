"""A product hidden (or deleted) while its page is open: adding it goes back to the cakes on sale
with a message, not to its page, now a 404. An admin previewing a hidden product is told it is
hidden and offered no add button."""

from __future__ import annotations

from .helpers import Browserless, flashes

ADD_FORM = 'action="/cart/add"'
HIDDEN_NOTE = "Sản phẩm đang ẩn: khách hàng không thấy trang này và không thể thêm vào giỏ."


def _new_product(stack, name: str) -> dict:
    category = stack.api("GET", "/api/categories").json()["items"][0]["id"]
    response = stack.api("POST", "/api/products", stack.admin_token(), json={
        "name": name, "categoryId": category, "sizes": [{"size": "16cm", "price": 150000}]})
    assert response.status_code == 201, response.text
    return response.json()


def _hide(stack, product: dict) -> None:
    response = stack.api("PATCH", f"/api/products/{product['id']}", stack.admin_token(),
                         json={"active": False})
    assert response.status_code == 200, response.text


def test_adding_a_product_hidden_while_its_page_was_open_goes_to_the_catalog(stack):
    product = _new_product(stack, "Bánh Vừa Ẩn")
    shopper = stack.register()
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    page = f"/products/{product['id']}"
    assert ADD_FORM in client.get(page).text
    _hide(stack, product)

    added = client.form_post("/products", "/cart/add",
                             {"productId": product["id"], "size": "16cm", "quantity": 1, "next": page})
    assert added.status_code == 302
    assert added.headers["Location"].endswith("/products")
    landed = client.get(added.headers["Location"])
    assert landed.status_code == 200
    assert flashes(landed.text) == ["Bánh này không còn bán. Mời bạn xem các bánh khác."]
    assert stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()["items"] == []


def test_an_admin_previewing_a_hidden_product_is_told_and_offered_no_add_button(stack, admin):
    product = _new_product(stack, "Bánh Xem Trước")
    page = f"/products/{product['id']}"
    shown = admin.get(page).text
    assert ADD_FORM in shown and HIDDEN_NOTE not in shown
    _hide(stack, product)

    preview = admin.get(page)
    assert preview.status_code == 200
    assert HIDDEN_NOTE in preview.text
    assert ADD_FORM not in preview.text
    assert Browserless(stack.url).get(page).status_code == 404  # shoppers still do not see it


def test_signing_in_to_add_a_product_hidden_meanwhile_goes_to_the_catalog(stack):
    """The visitor chose the cake, was sent to sign in, and an admin hid it before they did: the
    sign-in stands and lands on the cakes on sale with the message, not on the product's 404."""
    product = _new_product(stack, "Bánh Ẩn Lúc Đăng Nhập")
    shopper = stack.register()
    client = Browserless(stack.url)
    page = f"/products/{product['id']}"
    asked = client.form_post(page, "/cart/add",
                             {"productId": product["id"], "size": "16cm", "quantity": 1, "next": page})
    assert asked.headers["Location"].startswith("/login?next=")
    _hide(stack, product)

    signed_in = client.form_post(f"/login?next={page}", "/login",
                                 {"email": shopper["email"], "password": shopper["password"], "next": page})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/products")
    landed = client.get(signed_in.headers["Location"])
    assert landed.status_code == 200
    assert sorted(flashes(landed.text)) == ["Bánh này không còn bán. Mời bạn xem các bánh khác.",
                                            "Đăng nhập thành công."]
    assert stack.api("GET", f"/api/cart/{shopper['user']['id']}", shopper["token"]).json()["items"] == []
