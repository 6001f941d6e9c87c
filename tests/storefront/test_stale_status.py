"""Order status buttons send the status their page showed: a click on a page left open while the
order changed (another admin, the shop) changes nothing and says so in Vietnamese."""

from __future__ import annotations

import re

from .helpers import Browserless, flashes

CHANGED = "vừa được cập nhật"


def _order(stack, token: str) -> dict:
    product = stack.api("GET", "/api/products", params={"sort": "name"}).json()["items"][0]
    response = stack.api("POST", "/api/orders", token, json={
        "items": [{"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1}],
        "shippingAddress": "8 Lê Duẩn"})
    assert response.status_code == 201, response.text
    return response.json()


def _button(html: str, action: str, **match: str) -> dict[str, str]:
    """The fields of the form posting to `action` whose hidden fields include `match`."""
    for form in re.findall(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
        if match.items() <= fields.items():
            return fields
    raise AssertionError(f"no form to {action} with {match}")


def _history(stack, order: dict) -> list[str]:
    found = stack.api("GET", f"/api/orders/{order['id']}", stack.admin_token()).json()
    return [change["toStatus"] for change in found["statusHistory"]]


def _set_status(stack, order: dict, status: str) -> None:
    response = stack.api("PATCH", f"/api/orders/{order['id']}/status", stack.admin_token(),
                         json={"status": status})
    assert response.status_code == 200, response.text


def test_admin_button_on_a_stale_page_changes_nothing_and_says_why(stack, admin):
    shopper = stack.register()
    order = _order(stack, shopper["token"])
    page_path = f"/admin/orders/{order['id']}"
    action = f"{page_path}/status"
    button = _button(admin.get(page_path).text, action, status="PROCESSING")
    assert button["expectedStatus"] == "PENDING"
    _set_status(stack, order, "CANCELLED")  # another admin, meanwhile

    response = admin.post(action, data=button)
    assert (response.status_code, response.headers["Location"]) == (302, page_path)
    page = admin.get(page_path).text
    assert [message for message in flashes(page) if CHANGED in message] == [
        f"Đơn #{order['id']} vừa được cập nhật (hiện là “Đã hủy”) trong lúc bạn xem trang, nên chưa "
        "chuyển sang “Đang chuẩn bị”. Hãy xem lại trạng thái hiện tại của đơn rồi thao tác lại nếu cần."]
    assert 'data-status="CANCELLED"' in page
    assert _history(stack, order) == ["PENDING", "CANCELLED"]


def test_admin_list_buttons_send_the_status_each_row_shows(stack, admin):
    shopper = stack.register()
    order = _order(stack, shopper["token"])
    _set_status(stack, order, "PROCESSING")
    listing = admin.get("/admin/orders", params={"status": "PROCESSING"}).text
    button = _button(listing, f"/admin/orders/{order['id']}/status", status="SHIPPED")
    assert button["expectedStatus"] == "PROCESSING"
    _set_status(stack, order, "SHIPPED")  # the same step, by someone else first

    assert admin.post(f"/admin/orders/{order['id']}/status", data=button).status_code == 302
    assert f"Đơn #{order['id']} đã ở trạng thái “Đang giao”: có người vừa cập nhật trong lúc bạn xem trang." \
        in flashes(admin.get("/admin/orders").text)
    assert _history(stack, order) == ["PENDING", "PROCESSING", "SHIPPED"]


def test_owner_cancel_on_a_stale_page_changes_nothing_and_says_why(stack):
    shopper = stack.register(name="Minh Châu")
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    order = _order(stack, shopper["token"])
    page_path = f"/orders/{order['id']}"
    button = _button(client.get(page_path).text, f"{page_path}/cancel")
    assert button["expectedStatus"] == "PENDING"
    _set_status(stack, order, "PROCESSING")  # the shop started on it meanwhile

    response = client.post(f"{page_path}/cancel", data=button)
    assert (response.status_code, response.headers["Location"]) == (302, page_path)
    page = client.get(page_path).text
    assert any(CHANGED in message and "“Đang chuẩn bị”" in message and "chưa hủy đơn" in message
               for message in flashes(page))
    assert 'data-status="PROCESSING"' in page and "Hủy đơn</button>" not in page
    assert _history(stack, order) == ["PENDING", "PROCESSING"]


def test_a_current_page_still_works_and_a_forged_status_is_refused(stack, admin):
    shopper = stack.register()
    order = _order(stack, shopper["token"])
    page_path = f"/admin/orders/{order['id']}"
    button = _button(admin.get(page_path).text, f"{page_path}/status", status="PROCESSING")
    forged = admin.post(f"{page_path}/status", data={**button, "expectedStatus": "LOST"})
    assert forged.status_code == 400
    assert admin.post(f"{page_path}/status", data=button).status_code == 302
    assert _history(stack, order) == ["PENDING", "PROCESSING"]


def test_the_thanks_for_a_placed_order_go_once_it_is_cancelled(stack):
    shopper = stack.register()
    client = Browserless(stack.url)
    client.login(shopper["email"], shopper["password"])
    order = _order(stack, shopper["token"])
    thanks = f"Cảm ơn bạn! Đơn hàng #{order['id']} đã được đặt."
    assert thanks in client.get(f"/orders/{order['id']}?placed=1").text
    _set_status(stack, order, "CANCELLED")
    assert thanks not in client.get(f"/orders/{order['id']}?placed=1").text
