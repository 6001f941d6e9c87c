"""order_items.category_id: revenue by category survives a category's rename

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: lines placed before it keep their category name only (the catalog's tables are not
    # this service's to read, so there is nothing to fill it from).
    op.add_column("order_items", sa.Column("category_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("order_items", "category_id")
