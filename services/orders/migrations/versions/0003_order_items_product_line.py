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
# index also serves every lookup by product_id the old one did. Built concurrently on PostgreSQL so
# that orders keep being placed meanwhile.
def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("ix_order_items_product_line", "order_items", ["product_id", "id"],
                        postgresql_concurrently=True)
        op.drop_index("ix_order_items_product", "order_items", postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("ix_order_items_product", "order_items", ["product_id"], postgresql_concurrently=True)
        op.drop_index("ix_order_items_product_line", "order_items", postgresql_concurrently=True)
