"""URL converters. `int(max=N)` answers 404 for ids beyond N, like any other unknown path.

Werkzeug checks `min`/`max` only after it has matched the path and its method. A path such as
DELETE /api/cart/2147483648 then "matches" the GET rule of the same path and gets a 405. Putting
the bounds in the converter's pattern makes such a path match no rule at all.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

from .db import MAX_ID


def bounded_digits(limit: int) -> str:
    """A regex for the decimal numbers 0..limit, written without leading zeros."""
    digits = str(limit)
    width = len(digits)
    options = ["0"]
    if width > 1:
        options.append(rf"[1-9]\d{{0,{width - 2}}}")  # fewer digits than the limit
    for i, digit in enumerate(digits):  # same width: equal up to i, smaller at i, anything after
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = width - i - 1
            options.append(digits[:i] + f"[{low}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    options.append(digits)
    return "(?:" + "|".join(dict.fromkeys(options)) + ")"


# An id in a path: `<{ID}:order_id>`. Plain `int` has the same bound; spelled out, OpenAPI
# documents it as the maximum.
ID = f"int(max={MAX_ID})"


class BoundedIntegerConverter(IntegerConverter):
    """Werkzeug's `int`, whose pattern itself stops at `max` (default MAX_ID; unsigned, no fixed
    width)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
        if max is not None and max >= 0 and not signed and not fixed_digits:
            self.regex = bounded_digits(max)
