"""POST /api/auth/verify and every forged or expired token, on every protected users route."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import assert_error
from tests.kit.test_auth import FORGERIES
from tests.users.conftest import bearer


def test_verify_accepts_a_token_in_the_body_or_the_header(client, register):
    account = register()
    for kwargs in ({"json": {"token": account["token"]}}, {"headers": bearer(account["token"])},
                   {"json": {}, "headers": bearer(account["token"])}):
        response = client.post("/api/auth/verify", **kwargs)
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {"valid": True, "user": account["user"]}


def test_verify_returns_the_account_as_it_is_now(client, register, admin):
    account = register(email="lan@example.com")
    client.patch(f"/api/customers/{account['user']['id']}", json={"name": "Renamed"},
                 headers=bearer(admin["token"]))
    user = client.post("/api/auth/verify", json={"token": account["token"]}).get_json()["user"]
    assert user["name"] == "Renamed"


def test_verify_without_a_token_is_401(client):
    assert_error(client.post("/api/auth/verify"), 401, "unauthorized")
    assert_error(client.post("/api/auth/verify", json={}), 401, "unauthorized")
    assert_error(client.post("/api/auth/verify", json={"token": None}), 401, "unauthorized")


@pytest.mark.parametrize("body", [{"token": 123}, {"token": ""}, {"token": "x" * 5000}, {"jwt": "x"}])
def test_verify_with_a_malformed_body_is_422(client, body):
    assert_error(client.post("/api/auth/verify", json=body), 422, "validation_error")


def test_verify_rejects_the_token_of_a_deleted_account(client, app, register):
    account = register()
    from sqlalchemy import delete

    from services.users.models import Customer
    with app.extensions["db"].engine.begin() as conn:
        conn.execute(delete(Customer))
    assert_error(client.post("/api/auth/verify", json={"token": account["token"]}), 401, "invalid_token")


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_tokens_are_401_everywhere(client, users_tokens, register, forgery):
    """The kit's forgeries, made against the users service's own key (so only the forgery differs)."""
    account = register()
    token = FORGERIES[forgery](users_tokens)
    code = "token_expired" if forgery == "expired" else "invalid_token"
    assert_error(client.post("/api/auth/verify", json={"token": token}), 401, code)
    assert_error(client.post("/api/auth/verify", headers=bearer(token)), 401, code)
    assert_error(client.get("/api/customers/1", headers=bearer(token)), 401, code)
    assert_error(client.get("/api/customers", headers=bearer(token)), 401, code)
    assert_error(client.patch(f"/api/customers/{account['user']['id']}/role", json={"role": "ADMIN"},
                              headers=bearer(token)), 401, code)
    assert_error(client.put(f"/api/customers/{account['user']['id']}/password",
                            json={"currentPassword": "x", "newPassword": "long enough"},
                            headers=bearer(token)), 401, code)


def test_a_token_signed_by_another_key_is_401_even_with_our_kid(client, app, users_tokens, register):
    account = register()
    other_key = ec.generate_private_key(ec.SECP256R1())
    import jwt
    forged = jwt.encode(users_tokens.claims(account["user"]["id"], "ADMIN"), other_key,
                        algorithm="ES256", headers={"kid": app.extensions["signing_key"].kid})
    assert_error(client.get("/api/customers", headers=bearer(forged)), 401, "invalid_token")


def test_an_expired_token_from_our_own_issuer_is_401(client, app, register):
    account = register()
    from services.users.models import Customer
    session = app.extensions["db"].sessionmaker()
    try:
        customer = session.get(Customer, account["user"]["id"])
        stale = app.extensions["token_issuer"].issue(customer, now=int(time.time()) - 25 * 3600)
    finally:
        session.close()
    assert_error(client.post("/api/auth/verify", json={"token": stale}), 401, "token_expired")
