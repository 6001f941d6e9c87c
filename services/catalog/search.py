"""Vietnamese-aware search text: what shoppers type matches what the shop wrote.

Names and descriptions are stored twice: as written, and normalised by the kit
(`services.kit.text.normalize`). Queries are normalised the same way, split into tokens and
matched with LIKE, which behaves identically on PostgreSQL and SQLite.
"""

from __future__ import annotations

from services.kit.text import normalize


def slugify(text: str) -> str:
    """'Mousse Dâu' → 'mousse-dau'."""
    return normalize(text).replace(" ", "-")
