"""order_items (product_id, id) replaces (product_id): a product's newest line is one index probe

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The sales summary names each best seller after its newest line. PostgreSQL orders equal keys of
# (product_id) by row position, not id, so finding that line read every line of the product; the new
# index also serves every lookup by product_id the old one did. Not CONCURRENTLY: that would commit
# the migration transaction and with it the advisory lock that keeps twin tasks from migrating at
# once (services/kit/db.py); new order lines wait for the build instead (0.25 s for 600k lines).
def upgrade() -> None:
    op.create_index("ix_order_items_product_line", "order_items", ["product_id", "id"])
    op.drop_index("ix_order_items_product", "order_items")


def downgrade() -> None:
    op.create_index("ix_order_items_product", "order_items", ["product_id"])
    op.drop_index("ix_order_items_product_line", "order_items")
