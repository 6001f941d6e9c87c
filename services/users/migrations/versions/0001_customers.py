"""customers

Revision ID: 0001
Revises:
Create Date: 2026-11-24

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('CUSTOMER', 'ADMIN')", name="ck_customers_role"),
        sa.PrimaryKeyConstraint("id"),
    )
    # Case-insensitive uniqueness, on PostgreSQL and SQLite alike (both support expression indexes).
    op.create_index("uq_customers_email_lower", "customers", [sa.literal_column("lower(email)")],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_customers_email_lower", table_name="customers")
    op.drop_table("customers")
