"""Vietnamese-aware search text: what shoppers type matches what the shop wrote.

Names and descriptions are stored twice: as written, and normalised (lower case, accents removed,
đ → d, punctuation → spaces). Queries are normalised the same way, split into tokens and matched
with LIKE, which behaves identically on PostgreSQL and SQLite.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^0-9a-z]+")
# đ/Đ is a letter of its own, not d plus a combining mark, so NFD leaves it alone.
_LETTER_FOLDS = str.maketrans({"đ": "d", "Đ": "d"})


def normalize(text: str | None) -> str:
    """'Bánh Kem Bắp!' → 'banh kem bap'; 'Đậu' → 'dau'."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.translate(_LETTER_FOLDS))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NOT_WORD.sub(" ", bare).strip()


def tokens(query: str) -> list[str]:
    """Distinct normalised words of a query, longest first (the most selective LIKE first)."""
    words = dict.fromkeys(normalize(query).split())
    return sorted(words, key=len, reverse=True)


def slugify(text: str) -> str:
    """'Mousse Dâu' → 'mousse-dau'."""
    return normalize(text).replace(" ", "-")
