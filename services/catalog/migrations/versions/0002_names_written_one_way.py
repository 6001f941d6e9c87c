"""names and size labels written one way (NFC, single spaces), as the API now stores them

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

"""
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Space characters (Unicode Zs), as services/kit/text.py had them when this was written.
SPACES = re.compile("[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
# (table, column, the columns within which the text is unique)
TEXTS = (("categories", "name", ()), ("products", "name", None), ("product_sizes", "label", ("product_id",)))


def upgrade() -> None:
    """A name typed with its accents apart (NFD), or with spaces other than single plain ones, becomes
    the one the API now writes, so an order or a cart naming it that way finds it. Where that name is
    already taken (the duplicate this change prevents from now on), the row is left for an admin."""
    connection = op.get_bind()
    for table_name, column, unique_within in TEXTS:
        scope = list(unique_within or ())
        table = sa.table(table_name, sa.column("id"), sa.column(column), *map(sa.column, scope))
        rows = connection.execute(sa.select(table.c.id, table.c[column], *[table.c[c] for c in scope])).all()
        taken = {(tuple(row[2:]), row[1]) for row in rows}
        for row in rows:
            composed = SPACES.sub(" ", unicodedata.normalize("NFC", row[1]))
            if composed == row[1]:
                continue
            key = (tuple(row[2:]), composed)
            if unique_within is not None and key in taken:
                continue
            connection.execute(table.update().where(table.c.id == row[0]).values({column: composed}))
            taken.add(key)


def downgrade() -> None:
    """Nothing to undo: the composed text reads the same."""
