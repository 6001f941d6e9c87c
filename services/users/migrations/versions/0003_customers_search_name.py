"""customers.search_name: the name folded (no accents, any case) for the admin's customer search

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.text import normalize

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

customers = sa.table("customers", sa.column("id", sa.Integer()), sa.column("name", sa.String()),
                     sa.column("search_name", sa.String()))


def upgrade() -> None:
    # A plain ADD COLUMN on SQLite too: a batch rebuild would lose the lower(email) index.
    op.add_column("customers", sa.Column("search_name", sa.String(length=100), nullable=False,
                                         server_default=""))
    connection = op.get_bind()
    existing = connection.execute(sa.select(customers.c.id, customers.c.name)).all()
    if existing:
        connection.execute(
            customers.update().where(customers.c.id == sa.bindparam("customer_id"))
            .values(search_name=sa.bindparam("folded")),
            [{"customer_id": customer_id, "folded": normalize(name)} for customer_id, name in existing])


def downgrade() -> None:
    op.drop_column("customers", "search_name")
