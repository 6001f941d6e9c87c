"""What the users service logs when a registration fails in the database or a login is throttled:
the failure named, never the shopper's e-mail, phone, address or password hash."""

from __future__ import annotations

import json
from types import SimpleNamespace

from services.users import accounts
from tests.conftest import assert_error
from tests.users.conftest import PASSWORD

EMAIL, PHONE, ADDRESS = "binh.tran@example.com", "+84 912 345 678", "7 Lê Lợi, Quận 1"
PERSONAL_DATA = (EMAIL, PHONE, ADDRESS, "$2b$")  # "$2b$": any bcrypt hash


def register(client):
    return client.post("/api/auth/register", json={"email": EMAIL, "password": PASSWORD, "name": "Bình",
                                                   "phone": PHONE, "address": ADDRESS})


def errors_logged(output: str) -> list[dict]:
    return [entry for entry in map(json.loads, output.splitlines()) if entry["level"] == "ERROR"]


def test_a_registration_refused_by_another_constraint_is_a_logged_database_error(capfd, make_app,
                                                                                   monkeypatch):
    """Only the e-mail's unique index means "email_taken"; a CHECK violation is a bug to hear about."""
    app = make_app()
    create_customer = accounts.create_customer
    monkeypatch.setattr(accounts, "create_customer", lambda session, **fields: create_customer(
        session, **fields, role=SimpleNamespace(value="OWNER")))

    assert_error(register(app.test_client()), 500, "internal_error")
    output = capfd.readouterr().err
    assert not [data for data in PERSONAL_DATA if data in output]
    [line] = errors_logged(output)
    assert line["message"] == "database error"
    if app.extensions["db"].engine.dialect.name == "postgresql":
        assert (line["sqlstate"], line["constraint"]) == ("23514", "ck_customers_role")
    else:
        assert "ck_customers_role" in line["reason"]


def test_a_registration_racing_another_for_its_e_mail_is_409_and_no_error(capfd, make_app, monkeypatch):
    app = make_app()
    assert register(app.test_client()).status_code == 201
    # As if the other registration committed between this one's check and its insert.
    monkeypatch.setattr(accounts, "find_by_email", lambda _session, _email: None)

    assert_error(register(app.test_client()), 409, "email_taken")
    assert errors_logged(capfd.readouterr().err) == []


def test_a_throttled_login_logs_no_e_mail(capfd, make_app):
    app = make_app(log_level="INFO", login_limit_per_email="1 per minute")
    client = app.test_client()
    attempts = [client.post("/api/auth/login", json={"email": EMAIL, "password": "wrong guess"})
                for _ in range(2)]
    assert [response.status_code for response in attempts] == [401, 429]
    output = capfd.readouterr().err
    assert "rate limit reached" in output  # the project's own line, which names no key
    assert EMAIL not in output
