"""rate limit entries: login attempts counted in the database, shared by every worker and task

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rate_limit_entries_key_expires", "rate_limit_entries", ["key", "expires_at"])
    op.create_index("ix_rate_limit_entries_expires", "rate_limit_entries", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_entries_expires", table_name="rate_limit_entries")
    op.drop_index("ix_rate_limit_entries_key_expires", table_name="rate_limit_entries")
    op.drop_table("rate_limit_entries")
