"""The shopper's order history, order detail with its status timeline, and cancelling."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..api import ApiError, api, segment
from ..session import current_shopper, login_required
from ..validation import whole_number

bp = Blueprint("orders", __name__)

HISTORY_PAGE_SIZE = 10


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


def fetch_order(order_id: int) -> dict:
    """The order if the caller may see it; another customer's order is simply not found."""
    try:
        return api().get(f"/api/orders/{order_id}")
    except ApiError as exc:
        if exc.status in (403, 404):
            abort(404)
        raise


@bp.get("/orders")
@login_required
def history():
    page = page_arg()
    result = api().get(f"/api/orders/user/{segment(current_shopper().id)}",
                       params={"page": page, "pageSize": HISTORY_PAGE_SIZE})
    moved = past_the_end(page, result, "orders.history", {})
    if moved:
        return moved
    return render_template("shop/orders.html", result=result, page=page)


@bp.get("/orders/<int:order_id>")
@login_required
def detail(order_id: int):
    order = fetch_order(order_id)
    return render_template("shop/order.html", order=order, placed=request.args.get("placed") == "1")


@bp.post("/orders/<int:order_id>/cancel")
@login_required
def cancel(order_id: int):
    try:
        api().post(f"/api/orders/{order_id}/cancel")
    except ApiError as exc:
        if exc.status in (403, 404):
            abort(404)
        if exc.status != 409:
            raise
        flash("Đơn hàng này không thể hủy nữa.", "error")
    else:
        flash("Đã hủy đơn hàng.", "success")
    return redirect(url_for("orders.detail", order_id=order_id))
