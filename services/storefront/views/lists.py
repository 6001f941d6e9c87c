"""What every paged list of the storefront shares: the page asked for, a page past the end, and
filters the API refused."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import redirect, request, url_for

from ..api import ApiError
from ..validation import whole_number


def page_arg() -> int:
    page = whole_number(request.args.get("page"))
    return page if page is not None and 1 <= page <= 10_000 else 1


def past_the_end(page: int, result: dict, endpoint: str, args: dict):
    """A redirect to the last page when `page` is past it (an old link, a typed URL), else None: an
    empty page past the end would read "Trang 999 / 2", or "no orders yet" to someone with orders."""
    last = (result["total"] + result["pageSize"] - 1) // result["pageSize"]
    if not result["total"] or page <= last:
        return None
    args = {key: value for key, value in args.items() if key != "page"}
    return redirect(url_for(endpoint, **args, **({"page": last} if last > 1 else {})))


# An order list's `after`/`before` cursor, as the orders API writes them.
ORDER_CURSOR = re.compile(r"[0-9]{1,18}-[0-9]{1,19}")


def order_page(fetch: Callable[[dict], dict], endpoint: str, args: dict):
    """(a page of an order list, None) or (None, a redirect). Its links read next to a cursor
    (`after`, `before`), so orders that arrive or change status meanwhile neither skip nor repeat;
    a numbered `page` (an old link) still works. A cursor that leads nowhere, edited or past an end,
    goes to the first page."""
    cursor = {name: request.args[name] for name in ("after", "before")
              if ORDER_CURSOR.fullmatch(request.args.get(name, ""))}
    if len(cursor) != 1:
        page = page_arg()
        result = fetch({"page": page})
        return result, past_the_end(page, result, endpoint, args)
    try:
        result = fetch(cursor)
    except ApiError as exc:
        if exc.status != 422:  # a cursor out of range
            raise
        result = None
    if result is None or (result["total"] and not result["orders"]):
        return None, redirect(url_for(endpoint, **args))
    return result, None


def filtered_or_all(fetch: Callable[[dict], dict], filters: dict,
                    refused: Callable[[list[str]], str]) -> tuple[dict, dict, str | None]:
    """(`fetch(filters)`, filters, None); when the API refuses some (400/422: a control character in
    a search, a price that is no number), (`fetch(the others)`, the others, `refused(the dropped
    filters' names)`) from the first page: a list drops what it cannot use and says which, rather
    than becoming an error page. A refusal that names no filter drops them all."""
    try:
        return fetch(filters), filters, None
    except ApiError as exc:
        if exc.status not in (400, 422):
            raise
        named = set(exc.field_errors()) & set(filters)
        kept = {key: value for key, value in filters.items() if named and key not in named | {"page"}}
        dropped = [key for key in filters if key not in kept and key != "page"]
        return fetch(kept), kept, refused(dropped)
