"""a removed size is marked (removed_at), not deleted, so the cart lines holding it stay

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("removed_at IS NULL")


def upgrade() -> None:
    # On SQLite the batch copies the table; the migration's connection leaves foreign keys off, so
    # dropping the old copy cascades to no cart line.
    with op.batch_alter_table("product_sizes") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint("uq_product_sizes_product_label", type_="unique")
    # A label is unique among the sizes on sale only: an admin may add back one removed earlier.
    op.create_index("uq_product_sizes_product_label_live", "product_sizes", ["product_id", "label"],
                    unique=True, postgresql_where=LIVE, sqlite_where=LIVE)


def downgrade() -> None:
    """Removed sizes go, with the cart lines holding them (as before this revision)."""
    op.execute("DELETE FROM cart_items WHERE size_id IN "
               "(SELECT id FROM product_sizes WHERE removed_at IS NOT NULL)")
    op.execute("DELETE FROM product_sizes WHERE removed_at IS NOT NULL")
    op.drop_index("uq_product_sizes_product_label_live", table_name="product_sizes")
    with op.batch_alter_table("product_sizes") as batch:
        batch.create_unique_constraint("uq_product_sizes_product_label", ["product_id", "label"])
        batch.drop_column("removed_at")
