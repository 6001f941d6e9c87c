"""The analytics envelope, request ids, JSON logs and config refusals."""

import io
import json
import logging
import uuid
from datetime import datetime

import pytest
from pydantic import ValidationError

from services.kit.config import ServiceConfig
from services.kit.events import ENVELOPE_FIELDS, EVENT_NAMES, EventEmitter, build_event
from tests.conftest import read_events


def test_emitted_line_has_every_envelope_field(client, tokens, capsys, events_file):
    response = client.post("/api/notes", json={"text": "bánh kem"},
                           headers={**tokens.headers(42), "X-Request-Id": "req-123",
                                    "X-Session-Id": "sess-9"})
    assert response.status_code == 201
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if '"user_action"' in line]
    assert len(lines) == 1
    event = lines[0]
    assert tuple(event) == ENVELOPE_FIELDS
    assert event["type"] == "user_action"
    assert event["event"] == "Product Search"
    assert uuid.UUID(event["eventId"]).version == 4
    assert datetime.fromisoformat(event["timestamp"]).utcoffset().total_seconds() == 0
    assert event["service"] == "sample"
    assert event["userId"] == "42"
    assert event["sessionId"] == "sess-9"
    assert event["requestId"] == "req-123"
    assert event["properties"] == {"searchQuery": "bánh kem", "resultsCount": 1}
    # the local event log holds the very same line
    assert read_events(events_file) == [event]


def test_each_event_gets_a_new_id():
    stream = io.StringIO()
    emitter = EventEmitter("catalog", stream=stream)
    first = emitter.emit("Product Search", {"searchQuery": "a", "resultsCount": 0})
    second = emitter.emit("Product Search", {"searchQuery": "a", "resultsCount": 0})
    assert first["eventId"] != second["eventId"]
    assert len(stream.getvalue().splitlines()) == 2


@pytest.mark.parametrize(("name", "properties"), [
    ("Product Bought", {}),
    ("Add to Cart", {"productId": 1, "quantity": 1, "size": "12cm"}),  # price missing
])
def test_unknown_events_and_missing_properties_are_programming_errors(name, properties):
    with pytest.raises(ValueError):
        build_event(name, properties, service="x")


def test_event_names_match_design():
    assert set(EVENT_NAMES) == {"Product Viewed", "Product Search", "Add to Cart",
                                "Checkout Started", "Order Completed", "User Registered",
                                "User Login"}


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/health", headers={"X-Request-Id": "abc-1"}).headers["X-Request-Id"] == "abc-1"
    generated = client.get("/health").headers["X-Request-Id"]
    assert len(generated) == 32
    # a hostile id (newlines, huge) is replaced, never reflected
    bad = client.get("/health", headers={"X-Request-Id": "x" * 500}).headers["X-Request-Id"]
    assert bad != "x" * 500


def test_log_lines_are_json_with_the_request_id(client, caplog):
    from services.kit.logs import JsonFormatter
    caplog.set_level(logging.INFO, logger="sweetdream.access")
    client.get("/api/notes?token=secret", headers={"X-Request-Id": "trace-7"})
    record = next(r for r in caplog.records if r.name == "sweetdream.access")
    with client.application.test_request_context(headers={"X-Request-Id": "trace-7"}):
        from flask import g
        g.request_id = "trace-7"
        line = json.loads(JsonFormatter("sample").format(record))
    assert line["requestId"] == "trace-7"
    assert line["path"] == "/api/notes"
    assert line["status"] == 200
    assert "secret" not in json.dumps(line)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_deployed_config_refuses_local_defaults(environment):
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        ServiceConfig(environment=environment, database_url="postgresql://h/db")
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        ServiceConfig(environment=environment, secret_key="s" * 32)
    assert ServiceConfig(environment=environment, secret_key="s" * 32,
                         database_url="postgres://u@h/db").sqlalchemy_url == "postgresql+psycopg://u@h/db"


def test_config_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SERVICE_NAME", "catalog")
    config = ServiceConfig()
    assert config.sqlalchemy_url == f"sqlite:///{tmp_path / 'catalog.db'}"


def test_config_errors_never_print_secrets():
    with pytest.raises(ValidationError) as raised:
        ServiceConfig(environment="prod", database_url="postgresql://u:supersecretdb@h/db")
    assert "supersecretdb" not in str(raised.value)
