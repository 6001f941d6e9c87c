"""Fixtures every test area shares: real databases, signing keys, tokens and live servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete
from werkzeug.serving import make_server

from services.kit.config import ServiceConfig
from services.kit.db import upgrade

# The CDK's jsii runtime starts with the first aws_cdk import and needs Node 22, which package.json
# brings (`make test` exports the same path; this covers a bare `pytest`).
NODE_22 = Path(__file__).resolve().parents[1] / "node_modules" / "node" / "bin" / "node"
if NODE_22.exists():
    os.environ.setdefault("JSII_NODE", str(NODE_22))

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL",
                                   "postgresql://postgres@127.0.0.1:5432/postgres")
ISSUER, AUDIENCE = "sweetdream-users", "sweetdream"
SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def temporary_postgres_database(prefix: str = "sdtest", *, admin: str = TEST_DATABASE_URL,
                                owner: str | None = None) -> Iterator[str]:
    """A uniquely named database on the shared server (or the one `admin` names), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
    try:
        yield _with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_isolated(script: str, *, cwd: Path, without_site: bool = False) -> subprocess.CompletedProcess:
    """`script` in a fresh interpreter that sees no PYTHONPATH nor current directory (-I) and, with
    `without_site`, no site-packages either (-S): what a Lambda package must import from."""
    flags = ["-I", "-S"] if without_site else ["-I"]
    return subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, *flags, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture(scope="session", params=["postgresql", "sqlite"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """Service tests run once on PostgreSQL and once on the embedded SQLite default."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'service.db'}"
    else:
        with temporary_postgres_database() as url:
            yield url


class TokenFactory:
    """Signs tokens the way the users service does, plus the forgeries tests need."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.public_pem = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def claims(self, user_id: int, role: str = "CUSTOMER", **overrides) -> dict:
        now = int(time.time())
        claims = {"sub": str(user_id), "email": f"user{user_id}@example.com", "role": role,
                  "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, user_id: int, role: str = "CUSTOMER", *, key=None, **overrides) -> str:
        return jwt.encode(self.claims(user_id, role, **overrides), key or self.private_key,
                          algorithm="ES256")

    def headers(self, user_id: int, role: str = "CUSTOMER", **overrides) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, role, **overrides)}"}


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
def auth(tokens):
    """Headers for a caller: auth(CUSTOMER), auth(ADMIN, "ADMIN"), plus any extra headers."""
    def headers(user_id: int, role: str = "CUSTOMER", **extra) -> dict[str, str]:
        return {**tokens.headers(user_id, role), **extra}
    return headers


@pytest.fixture
def client(app):
    """A test client of the area's `app` fixture."""
    return app.test_client()


_migrated: set[tuple[str, str]] = set()


def close_apps(apps, *models) -> None:
    """After a test: delete the rows of `models` (children first) and close each app's engine."""
    for app in apps:
        engine = app.extensions["db"].engine
        if models:
            with engine.begin() as conn:
                for model in models:
                    conn.execute(delete(model))
        engine.dispose()


def migrate_once(service: str, database_url: str) -> str:
    """Upgrade `service`'s tables on the database to head, once per session; returns the url."""
    if (service, database_url) not in _migrated:
        upgrade(SERVICES_DIR / service, ServiceConfig(environment="test", database_url=database_url))
        _migrated.add((service, database_url))
    return database_url


@pytest.fixture
def events_file(tmp_path) -> Path:
    """The app's local event log (EVENT_LOG_FILE) for one test."""
    return tmp_path / "events.jsonl"


@contextmanager
def migrated_to(service: str, revision: str, dialect: str, tmp_path: Path):
    """A fresh `dialect` database with `service`'s tables at `revision`: yields (engine, upgrade),
    `upgrade()` taking it to head. For migrations that rewrite rows already there."""
    from alembic import command
    from sqlalchemy import create_engine

    from services.kit.db import alembic_config

    with ExitStack() as cleanup:
        url = (f"sqlite:///{tmp_path / f'{service}.db'}" if dialect == "sqlite"
               else cleanup.enter_context(temporary_postgres_database(f"sd{service}_migration")))
        url = ServiceConfig(environment="test", database_url=url).sqlalchemy_url
        migrations = alembic_config(SERVICES_DIR / service, url)
        command.upgrade(migrations, revision)
        engine = create_engine(url)
        cleanup.callback(engine.dispose)
        yield engine, lambda: command.upgrade(migrations, "head")


def read_events(path: Path, name: str | None = None) -> list[dict]:
    """The events logged to `path`, or only those called `name`."""
    if not path.exists():
        return []
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [e for e in events if name is None or e["event"] == name]


def assert_error(response, status: int, code: str) -> dict:
    """`response` is the kit's JSON error `code` with `status`; returns its error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    return body["error"]


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)



def migration_drift(engine, metadata, service: str) -> list:
    """What `service`'s migrations and its models disagree on (empty when they match).

    Only the service's own tables are compared: other services share the database, as on AWS.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    own_tables = set(metadata.tables)

    def only_ours(name, type_, _parent):
        return type_ != "table" or name in own_tables

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "version_table": f"alembic_version_{service}", "include_name": only_ours})
        return compare_metadata(context, metadata)

# The running shop, one per session, for every area that needs it.
from tests.shop import stack  # noqa: E402, F401
