"""What every paged list of the storefront shares: the page asked for, a page past the end, and
filters the API refused."""

from __future__ import annotations

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


def filtered_or_all(fetch: Callable[[dict], dict], filters: dict,
                    refused: str) -> tuple[dict, dict, str | None]:
    """(`fetch(filters)`, filters, None); when the API refuses the filters (400/422: a control
    character in a search, a price that is no number), (`fetch({})`, {}, `refused`): a list shows
    everything and says why, rather than becoming an error page."""
    try:
        return fetch(filters), filters, None
    except ApiError as exc:
        if exc.status not in (400, 422):
            raise
        return fetch({}), {}, refused
