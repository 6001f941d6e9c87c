"""customers.search_name folded again where it differs from the name: accounts the previous release
registered ('') or renamed (the old fold) while 0003 rolled out, which the admin's search missed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.text import normalize

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

customers = sa.table("customers", sa.column("id", sa.Integer()), sa.column("name", sa.String()),
                     sa.column("search_name", sa.String()))


def upgrade() -> None:
    """Rows only, no DDL: readers never wait. Read in id order a batch at a time (memory stays bounded
    on a large table) and update only the rows whose fold is wrong, so few rows are locked. The release
    running meanwhile already keeps search_name in step, so a row it renames between the read and the
    update keeps its own fold: the update applies only while the name is still the one read."""
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(customers.c.id, customers.c.name, customers.c.search_name)
            .where(customers.c.id > after).order_by(customers.c.id).limit(BATCH)).all()
        if not rows:
            return
        after = rows[-1].id
        stale = [{"customer_id": row.id, "read_name": row.name, "folded": normalize(row.name)}
                 for row in rows if row.search_name != normalize(row.name)]
        if stale:
            connection.execute(
                customers.update()
                .where(customers.c.id == sa.bindparam("customer_id"),
                       customers.c.name == sa.bindparam("read_name"))
                .values(search_name=sa.bindparam("folded")),
                stale)


def downgrade() -> None:
    """Nothing to undo: 0003's column stays, and a correct fold is what every release expects."""
