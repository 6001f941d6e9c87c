"""Catalog tests: the real service on PostgreSQL and SQLite, seeded with the original catalog."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from services.catalog import create_app
from services.catalog.config import SERVICE_DIR, CatalogConfig
from services.catalog.models import Base
from services.catalog.seed import load_seed, read_seed
from services.kit.db import db_session
from tests.conftest import assert_error, close_apps, migrate_once

CUSTOMER, OTHER_CUSTOMER, ADMIN = 1001, 1002, 1
SEED = read_seed(SERVICE_DIR / "catalog-seed.json")

@pytest.fixture(scope="session")
def catalog_database(database_url) -> str:
    return migrate_once("catalog", database_url)


def empty_catalog(engine) -> None:
    """Remove every row; ids start again at 1 so the seed's products keep the seed's ids."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our own table names)
            if conn.dialect.name == "postgresql":  # SQLite reuses max(id) + 1 by itself
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1, false)"))


# Database url → True while it holds exactly the seed: tests that only read share it.
_pristine: dict[str, bool] = {}
_WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def make_app(catalog_database, tokens, events_file):
    """Catalog apps on the session database holding just the seed (or nothing: seeded=False)."""
    apps = []

    def make(*, seeded: bool = True, **overrides):
        settings = {"environment": "test", "database_url": catalog_database,
                    "jwt_public_key": tokens.public_pem, "event_log_file": str(events_file),
                    "log_level": "WARNING"}
        settings.update(overrides)
        app = create_app(CatalogConfig(**settings))
        apps.append(app)
        engine = app.extensions["db"].engine
        if not (seeded and _pristine.get(catalog_database)):
            empty_catalog(engine)
            if seeded:
                with app.app_context():
                    assert load_seed(db_session(), SEED).loaded
            _pristine[catalog_database] = seeded

        @event.listens_for(engine, "before_cursor_execute")
        def _note_writes(_conn, _cursor, statement, *_args):
            if statement.lstrip()[:6].upper() in _WRITES:
                _pristine[catalog_database] = False

        return app

    yield make
    close_apps(apps)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def admin(auth):
    return auth(ADMIN, "ADMIN")


def error_fields(response) -> set[str]:
    """The fields a 422 names (its details), e.g. {"quantity"}."""
    error = assert_error(response, 422, "validation_error")
    return {item["field"] for item in error["details"]}


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["name"] for item in response.get_json()["items"]]


def seed_product(name: str) -> dict:
    """The seed entry named `name`; its id is the product id in a freshly seeded catalog."""
    return next(p.model_dump() for p in SEED.products if p.name == name)
