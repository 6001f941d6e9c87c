"""POST /api/auth/register: accounts, validation, duplicates, events, stored hashes."""

from __future__ import annotations

import bcrypt
import jwt
import pytest
from sqlalchemy import select, text

from services.users.models import Customer
from tests.conftest import assert_error, read_events
from tests.users.conftest import PASSWORD, bearer

USER_FIELDS = {"id", "email", "name", "phone", "address", "role", "createdAt", "updatedAt"}


def test_register_creates_a_customer_and_signs_them_in(client, users_tokens):
    response = client.post("/api/auth/register", json={
        "email": "Lan.Nguyen@Example.COM", "password": PASSWORD, "name": "  Nguyễn Thị Lan ",
        "phone": "+84 901 234 567", "address": "12 Nguyễn Huệ\nQuận 1"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"token", "user"}
    user = body["user"]
    assert set(user) == USER_FIELDS
    assert user["email"] == "lan.nguyen@example.com"
    assert user["name"] == "Nguyễn Thị Lan"
    assert user["phone"] == "+84 901 234 567"
    assert user["address"] == "12 Nguyễn Huệ\nQuận 1"
    assert user["role"] == "CUSTOMER"
    assert user["createdAt"].endswith("Z")
    claims = jwt.decode(body["token"], users_tokens.public_pem, algorithms=["ES256"],
                        audience="sweetdream", issuer="sweetdream-users")
    assert claims["sub"] == str(user["id"]) and claims["role"] == "CUSTOMER"
    assert claims["email"] == "lan.nguyen@example.com"
    # The token works at once.
    assert client.get(f"/api/customers/{user['id']}", headers=bearer(body["token"])).status_code == 200


def test_optional_fields_may_be_left_out_or_empty(client):
    response = client.post("/api/auth/register", json={
        "email": "a@example.com", "password": PASSWORD, "name": "A", "phone": "", "address": " "})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user"]["phone"] is None
    assert response.get_json()["user"]["address"] is None


def test_the_stored_password_is_a_bcrypt_hash_at_the_configured_cost(make_app):
    app = make_app(bcrypt_rounds=12)  # the production default
    response = app.test_client().post("/api/auth/register", json={
        "email": "hash@example.com", "password": PASSWORD, "name": "Hash"})
    assert response.status_code == 201
    with app.extensions["db"].engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM customers WHERE email = :e"),
                              {"e": "hash@example.com"}).scalar_one()
    assert stored.startswith("$2b$12$") and len(stored) == 60
    assert PASSWORD not in stored
    assert bcrypt.checkpw(PASSWORD.encode(), stored.encode())
    assert not bcrypt.checkpw(b"something else", stored.encode())


@pytest.mark.parametrize("email", ["lan@example.com", "LAN@example.com", "Lan@EXAMPLE.com",
                                   " lan@example.com "])
def test_duplicate_email_in_any_case_is_409(client, register, email):
    register(email="lan@example.com")
    response = client.post("/api/auth/register",
                           json={"email": email, "password": PASSWORD, "name": "Again"})
    assert_error(response, 409, "email_taken")


def test_database_refuses_a_mixed_case_duplicate_too(app, register):
    """The case-insensitive unique index holds even for a row written around the API."""
    register(email="lan@example.com")
    from sqlalchemy.exc import IntegrityError
    session = app.extensions["db"].sessionmaker()
    try:
        session.add(Customer(email="LAN@Example.com", password_hash="x", name="Sneaky", role="CUSTOMER"))
        with pytest.raises(IntegrityError):
            session.commit()
    finally:
        session.rollback()
        session.close()


LONG = "x" * 10_000
VALID = {"email": "v@example.com", "password": PASSWORD, "name": "Valid"}


@pytest.mark.parametrize("phone", ["+84 901 234 567", "090-123-4567", "(028) 3822 1234",
                                   "+84 (28) 3822.1234"])
def test_phones_as_people_write_them_are_kept_as_typed(client, phone):
    response = client.post("/api/auth/register", json={**VALID, "phone": phone})
    assert response.status_code == 201 and response.get_json()["user"]["phone"] == phone


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"email": "two@@example.com"}, "email"),
    ({"email": "user@localhost"}, "email"),
    ({"email": f"{'a' * 250}@example.com"}, "email"),
    ({"email": 42}, "email"),
    ({"email": None}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "ạ" * 30}, "password"),  # 30 characters but 90 bytes: over bcrypt's 72
    ({"password": 12345678}, "password"),
    ({"password": LONG}, "password"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"name": "bad\x00name"}, "name"),
    ({"name": "QA\u0085\u0090x"}, "name"),  # C1 controls too
    ({"name": ["list"]}, "name"),
    ({"phone": "12"}, "phone"),
    ({"phone": "call me maybe"}, "phone"),
    ({"phone": "((((((("}, "phone"),
    ({"phone": "0901+234567"}, "phone"),
    ({"phone": "1" * 21}, "phone"),
    ({"phone": 901234567}, "phone"),
    ({"address": "a" * 501}, "address"),
    ({"address": "nul\x00byte"}, "address"),
    ({"address": "12 Lê Lợi\u009b31m"}, "address"),
    ({"role": "ADMIN"}, "role"),
    ({"isAdmin": True}, "isAdmin"),
])
def test_invalid_registration_is_422_naming_the_field(client, change, field):
    body = {**VALID, **change}
    error = assert_error(client.post("/api/auth/register", json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, error
    assert PASSWORD not in str(error) and LONG not in str(error)


@pytest.mark.parametrize("missing", ["email", "password", "name"])
def test_missing_required_field_is_422(client, missing):
    body = {k: v for k, v in VALID.items() if k != missing}
    error = assert_error(client.post("/api/auth/register", json=body), 422, "validation_error")
    assert missing in {d["field"] for d in error["details"]}


@pytest.mark.parametrize("payload", [[], "text", 1, None])
def test_body_that_is_not_an_object_is_422(client, payload):
    assert_error(client.post("/api/auth/register", json=payload), 422, "validation_error")


def test_malformed_and_non_json_bodies(client):
    assert_error(client.post("/api/auth/register", data="{", content_type="application/json"),
                 400, "bad_request")
    assert_error(client.post("/api/auth/register", data="email=a", content_type="text/plain"),
                 415, "unsupported_media_type")
    assert_error(client.post("/api/auth/register", data=b"",
                             content_type="application/x-www-form-urlencoded"),
                 415, "unsupported_media_type")
    assert_error(client.post("/api/auth/register", data=b"x" * (1024 * 1024 + 1),
                             content_type="application/json"), 413, "payload_too_large")


def test_registration_emits_user_registered_without_secrets(client, events_file, capfd):
    response = client.post("/api/auth/register", json={**VALID, "email": "ev@example.com"},
                           headers={"X-Session-Id": "sess-1", "X-Request-Id": "req-reg"})
    assert response.status_code == 201
    token = response.get_json()["token"]
    [event] = read_events(events_file, "User Registered")
    assert event["userId"] == str(response.get_json()["user"]["id"])
    assert event["sessionId"] == "sess-1" and event["requestId"] == "req-reg"
    assert event["service"] == "users" and event["properties"] == {}
    out, err = capfd.readouterr()
    for secret in (PASSWORD, token, token.split(".")[2]):
        assert secret not in out + err + events_file.read_text()


def test_rows_are_stored_lower_cased(app, register):
    register(email="MiXeD@Example.com")
    session = app.extensions["db"].sessionmaker()
    try:
        assert session.scalars(select(Customer.email)).all() == ["mixed@example.com"]
    finally:
        session.close()
