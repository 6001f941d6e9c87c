"""The shopper's order history, order detail with its status timeline, and cancelling."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..api import ApiError, api, segment
from ..formatting import ORDER_STATUSES, status_label
from ..session import current_shopper, login_required
from .lists import order_page

bp = Blueprint("orders", __name__)

HISTORY_PAGE_SIZE = 10


def fetch_order(order_id: int) -> dict:
    """The order if the caller may see it; another customer's order is simply not found."""
    try:
        return api().get(f"/api/orders/{order_id}")
    except ApiError as exc:
        if exc.status in (403, 404):
            abort(404)
        raise


def shown_status() -> dict:
    """`expectedStatus` for the orders API: the status the form's page showed, so that a change made
    meanwhile (another admin, another tab) is refused, not applied over. A page rendered before
    forms carried it sends none: no check, as before."""
    shown = request.form.get("expectedStatus")
    if shown is None:
        return {}
    if shown not in ORDER_STATUSES:
        abort(400)  # a forged form
    return {"expectedStatus": shown}


def status_changed(order_id: int, exc: ApiError, undone: str, wanted: str) -> str | None:
    """The message for the API's 409 status_changed (else None): the order changed since the page
    was shown, so `undone` (moving it to `wanted`) was not done; the page it returns to shows the
    order as it is now."""
    if exc.code != "status_changed":
        return None
    current = exc.details.get("currentStatus") if isinstance(exc.details, dict) else None
    if current == wanted:  # someone else did the same meanwhile
        return (f"Đơn #{order_id} đã ở trạng thái “{status_label(current)}”: có người vừa cập nhật "
                "trong lúc bạn xem trang.")
    now = f" (hiện là “{status_label(current)}”)" if current else ""
    return (f"Đơn #{order_id} vừa được cập nhật{now} trong lúc bạn xem trang, nên chưa {undone}. "
            "Hãy xem lại trạng thái hiện tại của đơn rồi thao tác lại nếu cần.")


@bp.get("/orders")
@login_required
def history():
    result, moved = order_page(
        lambda position: api().get(f"/api/orders/user/{segment(current_shopper().id)}",
                                   params={**position, "pageSize": HISTORY_PAGE_SIZE}),
        "orders.history", {})
    return moved or render_template("shop/orders.html", result=result)


@bp.get("/orders/<int:order_id>")
@login_required
def detail(order_id: int):
    order = fetch_order(order_id)
    # The thanks belong to the order just placed: a bookmark or reload after it moved on (cancelled,
    # shipped) would thank the shopper for an order that is no longer waiting.
    placed = request.args.get("placed") == "1" and order["status"] == "PENDING"
    return render_template("shop/order.html", order=order, placed=placed)


@bp.post("/orders/<int:order_id>/cancel")
@login_required
def cancel(order_id: int):
    try:
        api().post(f"/api/orders/{order_id}/cancel", json=shown_status() or None)
    except ApiError as exc:
        if exc.status in (403, 404):
            abort(404)
        if exc.status != 409:
            raise
        flash(status_changed(order_id, exc, "hủy đơn", "CANCELLED") or "Đơn hàng này không thể hủy nữa.",
              "error")
    else:
        flash("Đã hủy đơn hàng.", "success")
    return redirect(url_for("orders.detail", order_id=order_id))
