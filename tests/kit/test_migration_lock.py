"""Tasks that start together all migrate first: on PostgreSQL they must take turns, not collide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psycopg

ENV_PY = """
from sqlalchemy.orm import DeclarativeBase

from services.kit.db import run_migrations


class Base(DeclarativeBase):
    pass


run_migrations(Base.metadata)
"""

# Slow on purpose, so the concurrent runs overlap inside the migration.
FIRST_REVISION = '''
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None


def upgrade():
    op.execute("SELECT pg_sleep(1)")
    op.create_table("locktest_items", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("locktest_items")
'''

UPGRADE = """
import sys
from pathlib import Path

from services.kit.config import ServiceConfig
from services.kit.db import upgrade

upgrade(Path(sys.argv[1]), ServiceConfig(database_url=sys.argv[2]))
"""


def test_concurrent_upgrades_on_postgresql_take_turns(tmp_path, postgres_url):
    service_dir = tmp_path / "locktest"
    (service_dir / "migrations" / "versions").mkdir(parents=True)
    (service_dir / "migrations" / "env.py").write_text(textwrap.dedent(ENV_PY))
    (service_dir / "migrations" / "versions" / "0001_items.py").write_text(FIRST_REVISION)

    runs = [subprocess.Popen([sys.executable, "-c", UPGRADE, str(service_dir), postgres_url],  # noqa: S603
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(3)]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version_locktest").fetchall() == [("0001",)]
        assert conn.execute("SELECT count(*) FROM locktest_items").fetchone() == (0,)
