"""Users tests: the real service on PostgreSQL and SQLite, with a real local signing key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from services.users import create_app
from services.users.config import UsersConfig
from services.users.keys import ensure_local_key
from services.users.models import Customer, RateLimitEntry
from tests.conftest import TokenFactory, close_apps, migrate_once

PASSWORD = "correct horse battery"
FAST_ROUNDS = 4  # bcrypt's minimum; one test checks the real default cost
NO_LIMITS = "10000 per minute"

@pytest.fixture(scope="session")
def users_database(database_url) -> str:
    return migrate_once("users", database_url)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory) -> Path:
    """One local signing key for the whole session (the service's own `.data/`)."""
    data_dir = tmp_path_factory.mktemp("users-data")
    ensure_local_key(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def users_tokens(key_dir) -> TokenFactory:
    """Tokens signed with the users service's own private key, incl. the kit's forgeries."""
    factory = TokenFactory()
    factory.private_key = serialization.load_pem_private_key(
        (key_dir / "jwt-private.pem").read_bytes(), password=None)
    factory.public_pem = (key_dir / "jwt-public.pem").read_text()
    return factory


def config_for(database_url: str, data_dir: Path, **overrides) -> UsersConfig:
    settings = {"environment": "test", "database_url": database_url, "data_dir": data_dir,
                "bcrypt_rounds": FAST_ROUNDS, "log_level": "WARNING",
                "login_limit_per_email": NO_LIMITS, "login_limit_per_address": NO_LIMITS,
                "register_limit_per_address": NO_LIMITS}
    settings.update(overrides)
    return UsersConfig(**settings)


@pytest.fixture
def make_app(users_database, key_dir, events_file):
    """Users apps on the session database; rows are deleted and engines closed afterwards."""
    apps = []

    def make(**overrides):
        overrides.setdefault("event_log_file", str(events_file))
        app = create_app(config_for(users_database, key_dir, **overrides))
        apps.append(app)
        return app

    yield make
    close_apps(apps, RateLimitEntry, Customer)


@pytest.fixture
def app(make_app):
    return make_app()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def register(client):
    """Register an account and return the response body ({token, user})."""
    def register_account(email: str = "lan@example.com", name: str = "Nguyễn Thị Lan",
                         password: str = PASSWORD, **fields) -> dict:
        response = client.post("/api/auth/register",
                               json={"email": email, "password": password, "name": name, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return register_account


@pytest.fixture
def admin(client, app, register):
    """A registered account promoted to ADMIN (through the CLI), logged in: {token, user}."""
    account = register(email="boss@example.com", name="Boss")
    result = app.test_cli_runner().invoke(args=["set-role", "--email", "boss@example.com",
                                                "--role", "ADMIN"])
    assert result.exit_code == 0, result.output
    response = client.post("/api/auth/login", json={"email": "boss@example.com", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["role"] == "ADMIN" and body["user"]["id"] == account["user"]["id"]
    return body
