"""A release rolled back to starts on the schema a later release migrated (migrations only add)."""

from __future__ import annotations

import logging
from contextlib import nullcontext

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from services.kit.config import ServiceConfig
from services.kit.db import alembic_config, upgrade
from tests.conftest import SERVICES_DIR, temporary_postgres_database

LATER = "0099_from_a_later_release"


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_a_database_a_later_release_migrated_is_used_as_it_is(dialect, tmp_path, caplog):
    with temporary_postgres_database("sdrollback") if dialect == "postgresql" else nullcontext() as url:
        url = url or f"sqlite:///{tmp_path / 'catalog.db'}"
        config = ServiceConfig(environment="test", database_url=url)
        migrations = alembic_config(SERVICES_DIR / "catalog", config.sqlalchemy_url)
        command.upgrade(migrations, "head")
        table = migrations.get_main_option("version_table")
        engine = create_engine(config.sqlalchemy_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f"UPDATE {table} SET version_num = :later"), {"later": LATER})
            with caplog.at_level(logging.WARNING, logger="services.kit.db"):
                upgrade(SERVICES_DIR / "catalog", config)  # before: "Can't locate revision", exit 1
            with engine.connect() as conn:
                assert conn.execute(text(f"SELECT version_num FROM {table}")).scalar_one() == LATER
                assert conn.execute(text("SELECT count(*) FROM product_sizes")).scalar_one() == 0
        finally:
            engine.dispose()
    assert f"newer than this release ({LATER})" in caplog.text
