"""Log lines name what happened and to whom (an id), never a customer's personal data."""

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.kit.db import db_session
from services.kit.errors import ServiceUnavailable
from services.kit.http import ServiceClient
from tests.conftest import assert_error

EMAIL, PHONE, ADDRESS = "binh.tran@example.com", "+84 912 345 678", "7 Lê Lợi, Quận 1"
BCRYPT_HASH = "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2O" + "PST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
PERSONAL_DATA = (EMAIL, PHONE, ADDRESS, "$2b$")

PEOPLE = """CREATE TEMPORARY TABLE people (
    id INTEGER PRIMARY KEY, email VARCHAR(254) NOT NULL, password_hash VARCHAR(100),
    phone VARCHAR(20), address VARCHAR(500),
    kind VARCHAR(16) CONSTRAINT ck_people_kind CHECK (kind IN ('CUSTOMER', 'ADMIN')))"""
INSERT_PERSON = text("INSERT INTO people (id, email, password_hash, phone, address, kind) "
                     "VALUES (:id, :email, :password_hash, :phone, :address, :kind)")


@pytest.fixture
def build_app(capfd, make_app, _sample_schema):
    """Builds the sample app when called, in the test itself: its log handler keeps the stderr of
    that moment, which must be the one capfd reads (during fixture setup it is another)."""
    return lambda **overrides: make_app(**{"database_url": _sample_schema, **overrides})


def log_lines(capfd) -> list[dict]:
    """The JSON lines the app logged so far (the kit writes them to stderr)."""
    return [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]


def access_lines(capfd) -> list[dict]:
    return [line for line in log_lines(capfd) if line["logger"] == "sweetdream.access"]


def create_people(connection) -> None:
    connection.execute(text(PEOPLE))
    connection.execute(text("CREATE UNIQUE INDEX uq_people_email_lower ON people (lower(email))"))


def insert_person(connection, id: int, kind: str = "CUSTOMER") -> None:  # noqa: A002 (the column)
    connection.execute(INSERT_PERSON, {"id": id, "email": EMAIL, "password_hash": BCRYPT_HASH,
                                       "phone": PHONE, "address": ADDRESS, "kind": kind})


def test_database_error_messages_leave_the_statement_parameters_out(capfd, build_app):
    """For any code that prints an error itself (PostgreSQL's DETAIL still quotes the key)."""
    with build_app().extensions["db"].engine.connect() as connection:
        create_people(connection)
        insert_person(connection, 1)
        with pytest.raises(IntegrityError) as raised:
            insert_person(connection, 2)  # the same e-mail again
    message = str(raised.value)
    assert "INSERT INTO people" in message
    assert not [data for data in (BCRYPT_HASH, PHONE, ADDRESS) if data in message]


@pytest.mark.parametrize(("violation", "constraint", "sqlstate"), [
    ("check", "ck_people_kind", "23514"),
    ("unique", "uq_people_email_lower", "23505"),
])
def test_a_database_error_is_logged_without_the_row(capfd, build_app, violation, constraint, sqlstate):
    app = build_app()

    @app.post("/api/people")
    def add_people():
        session = db_session()
        create_people(session)
        if violation == "check":
            insert_person(session, 1, kind="OWNER")
        else:
            insert_person(session, 1)
            insert_person(session, 2)  # the same e-mail again
        return "", 204

    assert_error(app.test_client().post("/api/people"), 500, "internal_error")
    output = capfd.readouterr().err
    assert not [data for data in PERSONAL_DATA if data in output]
    [line] = [json.loads(line) for line in output.splitlines() if '"database error"' in line]
    assert line["level"] == "ERROR"
    assert "INSERT INTO people" in line["statement"]
    assert "IntegrityError" in line["exception"] and "add_people" in line["exception"]  # the frames
    if app.extensions["db"].engine.dialect.name == "postgresql":
        assert (line["sqlstate"], line["constraint"], line["table"]) == (sqlstate, constraint, "people")
        assert f"constraint={constraint}" in line["exception"]
    else:  # SQLite has no SQLSTATE; its own message names the index or constraint
        assert constraint in line["reason"]


def test_the_access_log_masks_e_mail_addresses_in_paths_and_keeps_ids(capfd, build_app, tokens):
    client = build_app().test_client()
    client.patch(f"/api/customers/email/{EMAIL}/role", json={"role": "ADMIN"})
    client.get("/api/users/41/notes", headers=tokens.headers(41))
    paths = [line["path"] for line in access_lines(capfd)]
    assert paths == ["/api/customers/email/<email>/role", "/api/users/41/notes"]


def test_the_access_log_names_the_authenticated_caller(capfd, build_app, tokens):
    client = build_app().test_client()
    client.post("/api/notes", json={"text": "bánh flan"}, headers=tokens.headers(42))
    client.get("/api/notes")
    signed_in, anonymous = access_lines(capfd)
    assert (signed_in["status"], signed_in["userId"]) == (201, 42)
    assert anonymous["status"] == 200 and "userId" not in anonymous


def test_answered_health_probes_write_no_access_line(capfd, build_app):
    client = build_app().test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/health/live").status_code == 200
    assert access_lines(capfd) == []


def test_a_failed_health_probe_is_logged(capfd, build_app):
    # Port 9 (discard) has no PostgreSQL: the probe's database ping is refused.
    client = build_app(database_url="postgresql://postgres@127.0.0.1:9/none").test_client()
    assert client.get("/health").status_code == 503
    [line] = access_lines(capfd)
    assert (line["path"], line["status"]) == ("/health", 503)


def test_a_refused_call_between_services_logs_no_query_string(capfd, build_app):
    build_app()  # configures the service's logging
    refused = ServiceClient("http://127.0.0.1:9", name="nowhere", retries=1, backoff=0)
    with pytest.raises(ServiceUnavailable):
        refused.request("GET", "/api/products/search", params={"q": "bánh sinh nhật cho Bình"})
    assert "sinh" not in capfd.readouterr().err
