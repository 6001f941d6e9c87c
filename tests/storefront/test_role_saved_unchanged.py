"""Saving a customer's role as the form showed it changes nothing and says so, without a warning
about an admin's open session (the role form carries the role it was rendered with)."""

from __future__ import annotations

from tests.shop import ADMIN_EMAIL

from .helpers import flashes, form_fields

NOTHING_CHANGED = "Không có thay đổi nào để lưu."


def _save_role_form(admin, email: str, customer_id: int, **typed: str) -> list[str]:
    """Submit the customer's role form as a browser would (changing only `typed`); the flashes."""
    page = admin.get("/admin/customers", params={"q": email})
    assert page.status_code == 200
    response = admin.post(f"/admin/customers/{customer_id}/role",
                          data={**form_fields(page.text, f"role-form-{customer_id}"), **typed})
    assert response.status_code == 302, response.text[:300]
    return flashes(admin.get(response.headers["Location"]).text)


def test_saving_a_customers_role_unchanged_says_nothing_changed(stack, admin):
    shopper = stack.register(name="Khách Không Đổi")
    customer_id = shopper["user"]["id"]
    assert _save_role_form(admin, shopper["email"], customer_id) == [NOTHING_CHANGED]
    assert stack.api("GET", f"/api/customers/{customer_id}", stack.admin_token()).json()["role"] == "CUSTOMER"
    # A real change from the same form is still made and reported.
    said = " ".join(_save_role_form(admin, shopper["email"], customer_id, role="ADMIN"))
    assert "thành “Quản trị viên”" in said
    assert stack.api("GET", f"/api/customers/{customer_id}", stack.admin_token()).json()["role"] == "ADMIN"


def test_saving_ones_own_admin_role_unchanged_says_nothing_changed(stack, admin):
    found = stack.api("GET", "/api/customers", stack.admin_token(), params={"q": ADMIN_EMAIL}).json()
    my_id = next(customer["id"] for customer in found["items"] if customer["email"] == ADMIN_EMAIL)
    assert _save_role_form(admin, ADMIN_EMAIL, my_id) == [NOTHING_CHANGED]
    assert admin.get("/admin/orders").status_code == 200  # still signed in, still an admin
