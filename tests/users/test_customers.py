"""Customers and roles: self or admin, admin-only listing and role changes, the last admin."""

from __future__ import annotations

import time

import pytest

from services.users import accounts
from tests.conftest import assert_error
from tests.users.conftest import PASSWORD, bearer


@pytest.fixture
def lan(register):
    return register(email="lan@example.com", name="Nguyễn Thị Lan", phone="0901234567",
                    address="12 Nguyễn Huệ")


@pytest.fixture
def minh(register):
    return register(email="minh@example.com", name="Trần Văn Minh")


# -- GET /api/customers/:id ------------------------------------------------------------------

def test_customer_reads_own_profile(client, lan):
    response = client.get(f"/api/customers/{lan['user']['id']}", headers=bearer(lan["token"]))
    assert response.status_code == 200
    assert response.get_json() == lan["user"]


def test_customer_reading_another_customer_is_403(client, lan, minh):
    response = client.get(f"/api/customers/{minh['user']['id']}", headers=bearer(lan["token"]))
    assert_error(response, 403, "forbidden")


def test_admin_reads_anyone_and_gets_404_for_nobody(client, lan, admin):
    response = client.get(f"/api/customers/{lan['user']['id']}", headers=bearer(admin["token"]))
    assert response.status_code == 200 and response.get_json()["email"] == "lan@example.com"
    assert_error(client.get("/api/customers/999999", headers=bearer(admin["token"])), 404, "not_found")


@pytest.mark.parametrize("customer_id", ["99999999999999999999", "2147483648", "0"])
def test_ids_beyond_the_column_are_404_not_500(client, admin, customer_id):
    assert_error(client.get(f"/api/customers/{customer_id}", headers=bearer(admin["token"])),
                 404, "not_found")


@pytest.mark.parametrize("path", ["/api/customers/-1", "/api/customers/abc", "/api/customers/1.5"])
def test_non_numeric_ids_are_404(client, admin, path):
    assert_error(client.get(path, headers=bearer(admin["token"])), 404, "not_found")


def test_profile_needs_a_token(client, lan):
    response = client.get(f"/api/customers/{lan['user']['id']}")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


# -- PATCH /api/customers/:id ----------------------------------------------------------------

def test_customer_updates_own_profile(client, lan):
    url = f"/api/customers/{lan['user']['id']}"
    response = client.patch(url, json={"name": "Lan N.", "address": "34 Lê Lợi"},
                            headers=bearer(lan["token"]))
    assert response.status_code == 200, response.get_json()
    user = response.get_json()
    assert user["name"] == "Lan N." and user["address"] == "34 Lê Lợi"
    assert user["phone"] == "0901234567"  # untouched
    assert user["updatedAt"] >= lan["user"]["updatedAt"]
    # An empty phone (an emptied form field) clears it.
    cleared = client.patch(url, json={"phone": ""}, headers=bearer(lan["token"])).get_json()
    assert cleared["phone"] is None and cleared["name"] == "Lan N."
    assert client.get(url, headers=bearer(lan["token"])).get_json() == cleared


def test_admin_updates_a_customer_profile(client, lan, admin):
    response = client.patch(f"/api/customers/{lan['user']['id']}", json={"phone": "0909 000 111"},
                            headers=bearer(admin["token"]))
    assert response.status_code == 200 and response.get_json()["phone"] == "0909 000 111"


def test_customer_updating_another_customer_is_403_even_with_a_bad_body(client, lan, minh):
    url = f"/api/customers/{minh['user']['id']}"
    assert_error(client.patch(url, json={"name": "Hacked"}, headers=bearer(lan["token"])),
                 403, "forbidden")
    assert_error(client.patch(url, json={"name": 1}, headers=bearer(lan["token"])), 403, "forbidden")


@pytest.mark.parametrize(("body", "field"), [
    ({"role": "ADMIN"}, "role"),
    ({"email": "new@example.com"}, "email"),
    ({"password": "newpassword"}, "password"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"phone": "abc"}, "phone"),
    ({"address": "a" * 501}, "address"),
    ({"address": "12 Lê Lợi\u009b31m"}, "address"),  # a C1 control
    ({"address": 12}, "address"),
    ({}, ""),
])
def test_invalid_profile_update_is_422(client, lan, body, field):
    error = assert_error(client.patch(f"/api/customers/{lan['user']['id']}", json=body,
                                      headers=bearer(lan["token"])), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, error


def test_profile_update_of_a_missing_customer_is_404(client, admin):
    assert_error(client.patch("/api/customers/999999", json={"name": "X"},
                              headers=bearer(admin["token"])), 404, "not_found")


# -- GET /api/customers (admin) ----------------------------------------------------------------

def test_admin_lists_customers_paginated(client, register, admin):
    for n in range(5):
        register(email=f"c{n}@example.com", name=f"Customer {n}")
    first = client.get("/api/customers?pageSize=4", headers=bearer(admin["token"])).get_json()
    assert first["total"] == 6 and first["page"] == 1 and first["pageSize"] == 4
    assert [c["email"] for c in first["items"]] == [
        "boss@example.com", "c0@example.com", "c1@example.com", "c2@example.com"]
    second = client.get("/api/customers?pageSize=4&page=2", headers=bearer(admin["token"])).get_json()
    assert [c["email"] for c in second["items"]] == ["c3@example.com", "c4@example.com"]
    assert client.get("/api/customers?page=9", headers=bearer(admin["token"])).get_json()["items"] == []


def test_admin_searches_by_email_or_name(client, lan, minh, admin):
    def emails(q):
        response = client.get("/api/customers", query_string={"q": q}, headers=bearer(admin["token"]))
        assert response.status_code == 200
        return {c["email"] for c in response.get_json()["items"]}

    assert emails("MINH@") == {"minh@example.com"}
    assert emails("trần") == {"minh@example.com"}
    assert emails("example.com") == {"lan@example.com", "minh@example.com", "boss@example.com"}
    assert emails("%") == set()  # LIKE wildcards are matched literally
    assert emails("_") == set()
    assert emails("nobody") == set()
    # Accents are optional, as in the catalog's search; every word must be in the name.
    assert emails("nguyen") == emails("Nguyễn") == emails("NGUYỄN") == {"lan@example.com"}
    assert emails("lan nguyen") == emails("thi la") == {"lan@example.com"}
    assert emails("tran van") == {"minh@example.com"}
    assert emails("nguyen minh") == set()


def test_admin_search_follows_a_rename_and_keeps_names_without_latin_letters(client, lan, register, admin):
    def emails(q):
        response = client.get("/api/customers", query_string={"q": q}, headers=bearer(admin["token"]))
        return {c["email"] for c in response.get_json()["items"]}

    renamed = client.patch(f"/api/customers/{lan['user']['id']}", json={"name": "Lê Thị Hoa"},
                           headers=bearer(lan["token"]))
    assert renamed.status_code == 200
    assert emails("le hoa") == {"lan@example.com"} and emails("nguyen") == set()
    register(email="wang@example.com", name="王小明")  # folds to nothing: matched as typed
    assert emails("小明") == {"wang@example.com"}


def test_admin_reads_the_customers_of_a_page_of_orders_by_id(client, lan, minh, admin):
    ids = f"{minh['user']['id']},{lan['user']['id']},999999,9999999999"  # nobody, beyond the column
    found = client.get(f"/api/customers?ids={ids}", headers=bearer(admin["token"])).get_json()
    assert [c["email"] for c in found["items"]] == ["lan@example.com", "minh@example.com"]
    assert found["total"] == 2
    both = client.get(f"/api/customers?ids={ids}&q=minh", headers=bearer(admin["token"])).get_json()
    assert [c["email"] for c in both["items"]] == ["minh@example.com"]
    assert_error(client.get(f"/api/customers?ids={ids}", headers=bearer(lan["token"])), 403, "forbidden")


@pytest.mark.parametrize("query", ["page=0", "page=abc", "pageSize=0", "pageSize=101",
                                   "pageSize=-1", f"q={'q' * 101}", "page=99999999999999999999",
                                   "q=lan%01", "q=l%C2%85an", "ids=", "ids=1,,2", "ids=-1", "ids=a",
                                   "ids=" + ",".join(["1"] * 101), "ids=12345678901"])
def test_invalid_list_query_is_422(client, admin, query):
    assert_error(client.get(f"/api/customers?{query}", headers=bearer(admin["token"])),
                 422, "validation_error")


def test_customers_cannot_list_customers(client, lan):
    assert_error(client.get("/api/customers", headers=bearer(lan["token"])), 403, "forbidden")
    assert_error(client.get("/api/customers"), 401, "unauthorized")


# -- roles -------------------------------------------------------------------------------------

def test_admin_promotes_and_demotes_by_id(client, lan, admin):
    url = f"/api/customers/{lan['user']['id']}/role"
    promoted = client.patch(url, json={"role": "ADMIN"}, headers=bearer(admin["token"]))
    assert promoted.status_code == 200 and promoted.get_json()["role"] == "ADMIN"
    # The new role is in the next token (roles come from the token only).
    token = client.post("/api/auth/login",
                        json={"email": "lan@example.com", "password": PASSWORD}).get_json()["token"]
    assert client.get("/api/customers", headers=bearer(token)).status_code == 200
    demoted = client.patch(url, json={"role": "CUSTOMER"}, headers=bearer(admin["token"]))
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "CUSTOMER"


def test_a_demoted_admin_loses_admin_rights_within_the_admin_token_lifetime(client, app, lan, admin):
    """Services check tokens locally, so an issued token keeps its role; admin tokens last an hour.
    Users owns the roles and also asks its own table, so here the demotion applies at once."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["set-role", "--email", "lan@example.com", "--role", "ADMIN"]).exit_code == 0
    session = app.extensions["db"].sessionmaker()
    try:
        as_admin = accounts.get_by_email(session, "lan@example.com")
        issuer = app.extensions["token_issuer"]
        hour_old = issuer.issue(as_admin, now=int(time.time()) - 3600)
        fresh = issuer.issue(as_admin)
    finally:
        session.close()
    assert runner.invoke(args=["set-role", "--email", "lan@example.com", "--role", "CUSTOMER"]).exit_code == 0
    # Here at once; elsewhere within the bound (tests/kit), and an hour after issue everywhere.
    assert_error(client.get("/api/customers", headers=bearer(fresh)), 403, "forbidden")
    assert_error(client.get("/api/customers", headers=bearer(hour_old)), 401, "token_expired")
    relogin = client.post("/api/auth/login", json={"email": "lan@example.com", "password": PASSWORD})
    assert_error(client.get("/api/customers", headers=bearer(relogin.get_json()["token"])),
                 403, "forbidden")


def test_a_demoted_admins_token_cannot_undo_the_demotion_nor_demote_anyone(client, lan, minh, admin):
    """Their token stays valid elsewhere until it expires; in users, which owns the roles, it opens
    nothing: not their own promotion, not the owner's demotion, not another customer's profile."""
    client.patch("/api/customers/email/lan@example.com/role", json={"role": "ADMIN"},
                 headers=bearer(admin["token"]))
    lan_admin = client.post("/api/auth/login", json={"email": "lan@example.com", "password": PASSWORD})
    lan_token, lan_id = lan_admin.get_json()["token"], lan["user"]["id"]
    client.patch(f"/api/customers/{lan_id}/role", json={"role": "CUSTOMER"}, headers=bearer(admin["token"]))
    for path, body in ((f"/api/customers/{lan_id}/role", {"role": "ADMIN"}),
                       ("/api/customers/email/lan@example.com/role", {"role": "ADMIN"}),
                       (f"/api/customers/{admin['user']['id']}/role", {"role": "CUSTOMER"}),
                       (f"/api/customers/{minh['user']['id']}", {"name": "Đã sửa"})):
        assert_error(client.patch(path, json=body, headers=bearer(lan_token)), 403, "forbidden")
    minh_path = f"/api/customers/{minh['user']['id']}"
    assert_error(client.get(minh_path, headers=bearer(lan_token)), 403, "forbidden")
    assert client.get(f"/api/customers/{lan_id}", headers=bearer(lan_token)).status_code == 200  # their own
    boss = client.get(f"/api/customers/{admin['user']['id']}", headers=bearer(admin["token"])).get_json()
    assert boss["role"] == "ADMIN"
    assert client.get(minh_path, headers=bearer(admin["token"])).get_json()["name"] == "Trần Văn Minh"


def test_admin_sets_role_by_email_in_any_case(client, lan, admin):
    response = client.patch("/api/customers/email/LAN@Example.com/role", json={"role": "ADMIN"},
                            headers=bearer(admin["token"]))
    assert response.status_code == 200 and response.get_json()["role"] == "ADMIN"
    escaped = client.patch("/api/customers/email/lan%40example.com/role", json={"role": "CUSTOMER"},
                           headers=bearer(admin["token"]))
    assert escaped.status_code == 200 and escaped.get_json()["role"] == "CUSTOMER"


def test_customer_changing_own_role_is_403(client, lan):
    me = lan["user"]["id"]
    assert_error(client.patch(f"/api/customers/{me}/role", json={"role": "ADMIN"},
                              headers=bearer(lan["token"])), 403, "forbidden")
    assert_error(client.patch("/api/customers/email/lan@example.com/role", json={"role": "ADMIN"},
                              headers=bearer(lan["token"])), 403, "forbidden")
    # Also not through the profile, and not by claiming it in a body.
    assert_error(client.patch(f"/api/customers/{me}", json={"role": "ADMIN"},
                              headers=bearer(lan["token"])), 422, "validation_error")
    assert client.get(f"/api/customers/{me}", headers=bearer(lan["token"])).get_json()["role"] == "CUSTOMER"


def test_the_last_admin_cannot_be_demoted(client, lan, admin):
    me = admin["user"]["id"]
    assert_error(client.patch(f"/api/customers/{me}/role", json={"role": "CUSTOMER"},
                              headers=bearer(admin["token"])), 409, "last_admin")
    assert_error(client.patch("/api/customers/email/boss@example.com/role", json={"role": "CUSTOMER"},
                              headers=bearer(admin["token"])), 409, "last_admin")
    # Setting the role it already has is fine; with a second admin, demotion is allowed.
    assert client.patch(f"/api/customers/{me}/role", json={"role": "ADMIN"},
                        headers=bearer(admin["token"])).status_code == 200
    client.patch(f"/api/customers/{lan['user']['id']}/role", json={"role": "ADMIN"},
                 headers=bearer(admin["token"]))
    response = client.patch(f"/api/customers/{me}/role", json={"role": "CUSTOMER"},
                            headers=bearer(admin["token"]))
    assert response.status_code == 200 and response.get_json()["role"] == "CUSTOMER"


@pytest.mark.parametrize("body", [{"role": "SUPERUSER"}, {"role": "admin"}, {"role": None}, {},
                                  {"role": "ADMIN", "extra": 1}, {"role": ["ADMIN"]}])
def test_invalid_role_body_is_422(client, lan, admin, body):
    assert_error(client.patch(f"/api/customers/{lan['user']['id']}/role", json=body,
                              headers=bearer(admin["token"])), 422, "validation_error")


@pytest.mark.parametrize("path", ["/api/customers/999999/role", "/api/customers/email/ghost@example.com/role",
                                  "/api/customers/email/not-an-email/role",
                                  "/api/customers/email/nul%00@example.com/role",
                                  "/api/customers/99999999999999999999/role"])
def test_role_change_for_nobody_is_404(client, admin, path):
    assert_error(client.patch(path, json={"role": "ADMIN"}, headers=bearer(admin["token"])),
                 404, "not_found")


# -- PUT /api/customers/:id/password -------------------------------------------------------------

def test_customer_changes_own_password(client, lan):
    url = f"/api/customers/{lan['user']['id']}/password"
    response = client.put(url, json={"currentPassword": PASSWORD, "newPassword": "a new secret"},
                          headers=bearer(lan["token"]))
    assert response.status_code == 204 and response.data == b""
    old = client.post("/api/auth/login", json={"email": "lan@example.com", "password": PASSWORD})
    assert_error(old, 401, "invalid_credentials")
    new = client.post("/api/auth/login", json={"email": "lan@example.com", "password": "a new secret"})
    assert new.status_code == 200


def test_password_change_needs_the_current_password(client, lan):
    url = f"/api/customers/{lan['user']['id']}/password"
    error = assert_error(client.put(url, json={"currentPassword": "guess", "newPassword": "a new secret"},
                                    headers=bearer(lan["token"])), 422, "validation_error")
    assert error["details"][0]["field"] == "currentPassword"
    assert client.post("/api/auth/login", json={"email": "lan@example.com", "password": PASSWORD}
                       ).status_code == 200


def test_nobody_changes_another_accounts_password(client, lan, minh, admin):
    body = {"currentPassword": PASSWORD, "newPassword": "a new secret"}
    for token in (lan["token"], admin["token"]):
        assert_error(client.put(f"/api/customers/{minh['user']['id']}/password", json=body,
                                headers=bearer(token)), 403, "forbidden")
    assert_error(client.put(f"/api/customers/{minh['user']['id']}/password", json=body), 401, "unauthorized")


@pytest.mark.parametrize(("body", "field"), [
    ({"currentPassword": PASSWORD, "newPassword": "short"}, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": "ạ" * 30}, "newPassword"),
    ({"currentPassword": PASSWORD}, "newPassword"),
    ({"newPassword": "a new secret"}, "currentPassword"),
    ({"currentPassword": 1, "newPassword": "a new secret"}, "currentPassword"),
])
def test_invalid_password_change_is_422(client, lan, body, field):
    error = assert_error(client.put(f"/api/customers/{lan['user']['id']}/password", json=body,
                                    headers=bearer(lan["token"])), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}
    assert PASSWORD not in str(error)
