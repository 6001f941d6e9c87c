"""Every error has one JSON shape and the right status; client mistakes never give a 500."""

import io

import psycopg
import pytest
from sqlalchemy import text

from services.kit.db import db_session
from services.kit.errors import Conflict, Unprocessable
from tests.conftest import assert_error
from tests.kit.sample_app import Base


def test_malformed_json_is_400(client, tokens):
    response = client.post("/api/notes", data="{not json", content_type="application/json",
                           headers=tokens.headers(1))
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("body", ["null", "[]", '""', "0", "false", "[1, 2]", '"text"', "3.5"])
def test_a_body_that_is_not_an_object_is_422(client, tokens, body):
    response = client.post("/api/notes", data=body, content_type="application/json",
                           headers=tokens.headers(1))
    assert assert_error(response, 422, "validation_error")["details"][0]["field"] == "body"


def test_wrong_content_type_is_415(client, tokens):
    response = client.post("/api/notes", data="text=hi", headers=tokens.headers(1),
                           content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_body_over_one_megabyte_is_413(client, tokens):
    response = client.post("/api/notes", data=b'"' + b"x" * (1024 * 1024 + 1) + b'"',
                           content_type="application/json", headers=tokens.headers(1))
    assert_error(response, 413, "payload_too_large")


def _chunked(body: bytes, coding: str = "chunked", content_type: str = "application/json") -> dict:
    """A body sent without Content-Length, as gunicorn hands a chunked one to the app."""
    return {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
            "HTTP_TRANSFER_ENCODING": coding, "CONTENT_TYPE": content_type}


@pytest.mark.parametrize("coding", ["Chunked", "CHUNKED", "gzip, chunked", "identity , chunked"])
def test_every_spelling_of_a_chunked_body_is_checked(client, tokens, coding):
    """Gunicorn accepts these too: the checks skipped for them let `[]` cancel an order, and a form
    body reach a view as no body at all (a 500)."""
    malformed = client.post("/api/notes", environ_overrides=_chunked(b"{not json", coding),
                            headers=tokens.headers(1))
    assert_error(malformed, 400, "bad_request")
    form = client.post("/api/notes", headers=tokens.headers(1),
                       environ_overrides=_chunked(b"a=b", coding, "application/x-www-form-urlencoded"))
    assert_error(form, 415, "unsupported_media_type")


def test_a_chunked_body_over_one_megabyte_is_413_not_cut_short(client, tokens):
    """Werkzeug stops reading a chunked body at the limit without a word: the JSON looked broken."""
    big = b'{"text": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post("/api/notes", environ_overrides=_chunked(big), headers=tokens.headers(1))
    assert_error(response, 413, "payload_too_large")
    small = client.post("/api/notes", environ_overrides=_chunked(b'{"text": "hi"}'),
                        headers=tokens.headers(1))
    assert small.status_code == 201, small.get_json()


def test_unknown_route_is_404(client):
    assert_error(client.get("/api/nowhere"), 404, "not_found")


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/notes")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": 5}, {"text": "x" * 101},
                                  {"text": "ok", "unknown": 1}, [1, 2], "just a string"])
def test_invalid_body_is_422_with_field_details(client, tokens, body):
    error = assert_error(client.post("/api/notes", json=body, headers=tokens.headers(1)),
                         422, "validation_error")
    assert error["details"]


def test_validation_details_never_echo_the_input(client, tokens):
    response = client.post("/api/notes", json={"text": 12345678, "password": "hunter2hunter2"},
                           headers=tokens.headers(1))
    assert "hunter2" not in response.get_data(as_text=True)


# JSON's escape for a lone surrogate: valid JSON, but no UTF-8 can carry it back in an answer.
LONE_SURROGATE = "\\ud800"


@pytest.mark.parametrize(("body", "field"), [(f'{{"text": "{LONE_SURROGATE}"}}', "text"),
                                             (f'{{"text": "a{LONE_SURROGATE}b"}}', "text"),
                                             (f'{{"text": "ok", "{LONE_SURROGATE}": 1}}', "")])
def test_a_lone_surrogate_in_the_body_is_422_not_500(client, tokens, body, field):
    # Spectree built its own error list, quoting the input, before the kit's handler answered.
    response = client.post("/api/notes", data=body, content_type="application/json",
                           headers=tokens.headers(1))
    details = assert_error(response, 422, "validation_error")["details"]
    assert [detail["field"] for detail in details] == [field]


def test_an_error_that_quotes_a_lone_surrogate_can_still_be_sent(make_app):
    app = make_app()

    @app.get("/api/quote")
    def quote():
        raise Unprocessable("No category \ud800", details=[{"field": "\ud800", "message": "\udfff"}])

    error = assert_error(app.test_client().get("/api/quote"), 422, "validation_error")
    assert error["message"] == "No category \\ud800"
    assert error["details"] == [{"field": "\\ud800", "message": "\\udfff"}]


def test_valid_request_succeeds_and_is_stored(client, tokens):
    response = client.post("/api/notes", json={"text": "chocolate"}, headers=tokens.headers(9))
    assert response.status_code == 201
    assert response.get_json()["by"] == 9
    assert "chocolate" in [n["text"] for n in client.get("/api/notes").get_json()]


def test_health_is_200_when_the_database_answers(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": "sample"}


@pytest.fixture
def app_without_database(make_app):
    # Port 9 (discard) has no PostgreSQL: every connection attempt is refused.
    return make_app(database_url="postgresql://postgres@127.0.0.1:9/none")


def test_health_is_503_when_the_database_is_down(app_without_database):
    response = app_without_database.test_client().get("/health")
    assert_error(response, 503, "database_unavailable")


def test_liveness_is_200_when_the_database_is_down(app_without_database):
    response = app_without_database.test_client().get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive", "service": "sample"}


def test_api_is_503_not_500_when_the_database_is_down(app_without_database):
    response = app_without_database.test_client().get("/api/notes")
    error = assert_error(response, 503, "database_unavailable")
    assert "127.0.0.1" not in error["message"]
    assert response.headers["Retry-After"]


def test_openapi_is_generated_from_the_code(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {"/api/notes", "/api/admin-only"}
    body = spec["paths"]["/api/notes"]["post"]["requestBody"]["content"]["application/json"]
    schema_name = body["schema"]["$ref"].rsplit("/", 1)[1]
    assert "ownerId" in spec["components"]["schemas"][schema_name]["properties"]


def test_exhausted_connection_pool_is_503(make_app, postgres_url):
    app = make_app(database_url=postgres_url, db_pool_size=1)
    engine = app.extensions["db"].engine
    Base.metadata.create_all(engine)
    engine.pool._max_overflow = 0  # one connection in all, and no waiting for it
    engine.pool._timeout = 0.2
    held = engine.connect()
    try:
        response = app.test_client().get("/api/notes")
    finally:
        held.close()
    assert_error(response, 503, "database_unavailable")


def test_an_error_answer_survives_a_connection_that_died_mid_request(make_app, postgres_url):
    """The error handlers roll back; with the database restarted under the request, that rollback
    fails too, and the request's own answer must still go out (it was a 500)."""
    app = make_app(database_url=postgres_url)

    @app.get("/api/read-then-refuse")
    def read_then_refuse():
        backend = db_session().execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        raise Conflict("Refused after the read")

    client = app.test_client()
    assert_error(client.get("/api/read-then-refuse"), 409, "conflict")
    assert client.get("/health").status_code == 200  # the dead connection was not reused


def test_ids_beyond_the_integer_column_range_are_404_not_a_database_error(client, tokens):
    # The database is never asked about 2**31: PostgreSQL would answer with an overflow error.
    response = client.get("/api/users/2147483648/notes", headers=tokens.headers(1, "ADMIN"))
    assert_error(response, 404, "not_found")
    assert client.get("/api/users/2147483647/notes",
                      headers=tokens.headers(1, "ADMIN")).status_code == 200
