"""Free text, for every service: which characters it may hold, and the folded form searches compare.

Folding (lower case, accents removed, đ → d, punctuation → spaces) lets what a Vietnamese shopper
types without accents match what was written with them. A service stores the folded copy of a
searchable column next to it and matches folded query words with LIKE, which behaves identically
on PostgreSQL and SQLite.
"""

from __future__ import annotations

import re
import unicodedata

# No control characters, C0, DEL or C1 (U+0080–U+009F): they have no place in a name, PostgreSQL
# refuses NUL outright, and a terminal reads U+009B as the start of an escape sequence.
SINGLE_LINE = r"^[^\x00-\x1f\x7f-\x9f]*$"
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"  # an address or a note may span lines

_NOT_WORD = re.compile(r"[^0-9a-z]+")
# Space characters (Unicode Zs): a no-break space pasted from a document reads as a space.
_SPACES = re.compile("[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
# đ/Đ is a letter of its own, not d plus a combining mark, so NFD leaves it alone.
_LETTER_FOLDS = str.maketrans({"đ": "d", "Đ": "d"})


def canonical_name(value: object) -> object:
    """A name or size label written one way (a pydantic BeforeValidator): in NFC, so a letter and
    its accent typed as one character or as two (some Vietnamese keyboards send the tilde of "Hũ"
    apart) are the same text, and with each run of spaces, of any kind, as one plain space ("Hộp  6
    cái" and "Hộp\u00a06 cái" read as "Hộp 6 cái"). Anything but a string is left for the type
    check."""
    if not isinstance(value, str):
        return value
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value))


def same_name(a: str, b: str) -> bool:
    """One name to a reader: equal in any letter case, however the accents and spaces were typed."""
    return _name_key(a) == _name_key(b)


def _name_key(text: str) -> str:
    return unicodedata.normalize("NFC", canonical_name(text).casefold())


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
