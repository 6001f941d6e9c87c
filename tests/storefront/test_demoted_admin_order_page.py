"""A demoted admin's still-open session keeps the orders pages for up to the admin token lifetime
(README "Role changes"), but the users API refuses it the customer's contact details at once: the
order page still shows the order and the customer number, with a note that says why."""

from __future__ import annotations

from .helpers import Browserless, new_shopper_with_an_order


def test_a_demoted_admins_open_session_still_opens_an_order_with_a_note(stack):
    customer = new_shopper_with_an_order(stack, "Khách Đặt Bánh", "8 Đồng Khởi")
    order = customer["order"]
    manager = stack.register(name="Quản Lý Bị Hạ Quyền")
    manager_id = manager["user"]["id"]
    promoted = stack.api("PATCH", f"/api/customers/{manager_id}/role", stack.admin_token(),
                         json={"role": "ADMIN"})
    assert promoted.status_code == 200, promoted.text
    session = Browserless(stack.url)
    session.login(manager["email"], manager["password"])
    demoted = stack.api("PATCH", f"/api/customers/{manager_id}/role", stack.admin_token(),
                        json={"role": "CUSTOMER"})
    assert demoted.status_code == 200, demoted.text

    assert session.get("/admin/orders").status_code == 200  # the token's window, as documented
    page = session.get(f"/admin/orders/{order['id']}")
    assert page.status_code == 200, page.text[:500]
    assert "8 Đồng Khởi" in page.text and f"Khách #{customer['user']['id']}" in page.text
    contact = page.text.split('data-testid="customer-contact"')[1].split("</p>")[0]
    assert "cần quyền quản trị" in contact and "đăng nhập lại" in contact
    assert "Khách Đặt Bánh" not in contact and customer["email"] not in contact
