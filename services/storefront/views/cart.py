"""Cart and checkout."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from services.kit.api import ORDER_LINES_MAX
from services.kit.events import emit_event

from ..api import ApiError, ApiUnavailable, api, current_config, segment
from ..formatting import vnd
from ..session import current_shopper, login_required, referring_page, safe_next
from ..validation import multi_line, whole_number

bp = Blueprint("cart", __name__)
log = logging.getLogger(__name__)

MAX_QUANTITY = 99
# A double-submitted checkout can reach the orders service while the first request still holds
# the idempotency key; it answers 409 "in progress" and we ask again briefly for the same order.
IN_PROGRESS_RETRIES = 10
IN_PROGRESS_WAIT_S = 0.3
CHECKOUT_KEYS = uuid.UUID("5b0d8a43-1c55-4b8e-9a65-0f3f3c8b2d17")  # the uuid5 namespace of checkout_key()
QUOTED_FEE = "storefront_quoted_shipping_fee"  # app.extensions: the fee orders last quoted to us
# A visitor's "add to cart" waits in the session while they sign in (or up), for this long: a
# sign-in much later is not that choice any more.
PENDING_ADD = "pending_add"
PENDING_ADD_SECONDS = 30 * 60


def load_cart() -> dict:
    """The shopper's cart with current prices; also refreshes the header's item count."""
    cart = api().get(f"/api/cart/{segment(current_shopper().id)}")
    cart["available"] = [item for item in cart["items"] if item["available"]]
    if session.get("cart_count") != cart["itemCount"]:
        # Only when it changed: an unchanged cookie echoed by a slow page could undo a sign-out.
        session["cart_count"] = cart["itemCount"]
    return cart


def refresh_cart_count() -> None:
    """The header's count from the cart as it stands, e.g. after signing in to a cart kept from an
    earlier visit. Signing in does not wait for the catalog: without it the count comes later."""
    with contextlib.suppress(ApiError):
        load_cart()


def shipping_fee() -> int:
    """The orders service's fee is binding; ours is only a first guess until it quotes its own (in
    a price_changed answer), which this process then shows, so the next checkout is not refused."""
    return current_app.extensions.get(QUOTED_FEE, current_config().shipping_fee_vnd)


def cart_totals(cart: dict) -> dict[str, int]:
    """Only lines still on sale count; the catalog's subtotal already leaves the others out."""
    shipping = shipping_fee() if cart["available"] else 0
    return {"subtotal": cart["subtotal"], "shipping": shipping, "total": cart["subtotal"] + shipping,
            "count": cart["itemCount"]}


@bp.get("/cart")
@login_required
def view():
    cart = load_cart()
    return render_template("shop/cart.html", cart=cart, totals=cart_totals(cart))


@bp.post("/cart/add")
def add():
    product_id = whole_number(request.form.get("productId"))
    quantity = whole_number(request.form.get("quantity"))
    size = request.form.get("size", "").strip()
    back = safe_next(request.form.get("next"), url_for("cart.view"))
    if product_id is None:
        abort(400)
    if not size:
        flash("Vui lòng chọn kích cỡ.", "error")
        return redirect(back)
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        flash(f"Số lượng phải từ 1 đến {MAX_QUANTITY}.", "error")
        return redirect(back)
    if current_shopper() is None:
        # Signing in (or up) adds it: the shopper does not choose the cake, size and quantity again.
        session[PENDING_ADD] = {"productId": product_id, "size": size, "quantity": quantity,
                                "at": time.time()}
        if not g.get("session_expired"):  # that message already says to sign in
            flash("Vui lòng đăng nhập để thêm vào giỏ hàng; bánh bạn chọn sẽ được thêm ngay sau đó.", "info")
        return redirect(url_for("account.login",
                                next=safe_next(request.form.get("next") or referring_page(), "/")))
    if not _add_line(product_id, size, quantity):  # its page is gone: back to the cakes on sale
        return redirect(url_for("shop.catalog"))
    return redirect(back)


def take_pending_add() -> dict | None:
    """The add a visitor asked for before signing in, taken out of the session (signing in clears it)."""
    pending = session.pop(PENDING_ADD, None)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_ADD_SECONDS:
        return None
    return pending


def add_pending(pending: dict | None) -> bool:
    """After sign-in: add what the visitor chose before it. A refusal is flashed like any add's; a
    cart that cannot answer is said so, without failing the sign-in that already happened. False
    when the product is no longer sold (hidden meanwhile), so its page is gone too."""
    if not pending:
        return True
    try:
        return _add_line(pending["productId"], pending["size"], pending["quantity"])
    except (ApiError, ApiUnavailable):
        flash("Chưa thêm được bánh bạn chọn vào giỏ hàng; vui lòng thử lại.", "error")
        return True


def _add_line(product_id: int, size: str, quantity: int) -> bool:
    """Add to the cart, flashing how it went; False when the product is no longer sold (deleted, or
    hidden by an admin), whose page is then gone too."""
    try:
        line = api().post("/api/cart", json={"productId": product_id, "size": size, "quantity": quantity})
    except ApiError as exc:
        if exc.status not in (404, 409, 422):
            raise
        if "productId" in exc.field_errors():
            flash("Bánh này không còn bán. Mời bạn xem các bánh khác.", "error")
            return False
        if "quantity" in exc.field_errors():  # the line would pass the cap; nothing is out of stock
            flash(f"Mỗi loại bánh và kích cỡ chỉ đặt tối đa {MAX_QUANTITY} trong một giỏ hàng. "
                  "Vui lòng xem lại số lượng trong giỏ.", "error")
        elif exc.code == "cart_full":
            flash(f"Giỏ hàng đã có {ORDER_LINES_MAX} loại bánh và kích cỡ, nhiều nhất một đơn hàng nhận. "
                  "Vui lòng đặt hàng hoặc bớt sản phẩm trước khi thêm.", "error")
        else:
            flash("Không thể thêm sản phẩm này vào giỏ (có thể đã hết hàng hoặc đã thay đổi).", "error")
        return True
    # The count as the cart stands, not ours plus this add: tabs adding at once each answer with a
    # cookie, the last one wins, and an increment would lose the others' adds. The message names the
    # cake, as it may show up in another tab.
    refresh_cart_count()
    flash(f"Đã thêm {quantity} × {line['productName']} ({size}) vào giỏ hàng.", "success")
    return True


@bp.post("/cart/items/<int:item_id>")
@login_required
def update(item_id: int):
    quantity = whole_number(request.form.get("quantity"))
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        # Said on a cart of several lines: which one is meant, when the cart can tell.
        line = None
        with contextlib.suppress(ApiError):  # ApiUnavailable too: the message is said without the name
            line = next((item for item in load_cart()["items"] if item["id"] == item_id), None)
        cake = f" {line['productName']} ({line['size']})" if line else ""
        flash(f"Số lượng{cake} phải từ 1 đến {MAX_QUANTITY}.", "error")
        return redirect(url_for("cart.view"))
    try:
        api().patch(f"/api/cart/{item_id}", json={"quantity": quantity})
    except ApiError as exc:
        if exc.code == "not_on_sale":
            flash("Bánh này không còn bán nên không thể đổi số lượng; bạn có thể xóa khỏi giỏ hàng.", "error")
        elif exc.status in (404, 422):
            flash("Không thể cập nhật sản phẩm này; giỏ hàng đã được tải lại.", "error")
        else:
            raise
    else:
        flash("Đã cập nhật số lượng.", "success")
    return redirect(url_for("cart.view"))


@bp.post("/cart/items/<int:item_id>/delete")
@login_required
def remove(item_id: int):
    try:
        api().delete(f"/api/cart/{item_id}")
    except ApiError as exc:
        if exc.status != 404:
            raise
    flash("Đã xóa sản phẩm khỏi giỏ hàng.", "success")
    return redirect(url_for("cart.view"))


def checkout_key(cart: dict) -> str:
    """The order's Idempotency-Key, one per cart as it stands: every checkout page showing the same
    cart (a second tab, another device) confirms the same order, so they cannot place it twice,
    and any change to the cart makes a new key. Lines keep their id and change `updatedAt`; a size
    the admin renamed changes only its label."""
    lines = sorted((item["id"], item["updatedAt"], item["quantity"], item["productId"], item["size"])
                   for item in cart["available"])
    return str(uuid.uuid5(CHECKOUT_KEYS, json.dumps([cart["userId"], lines])))


def _checkout_page(cart: dict, address: str, notes: str = "", errors: dict | None = None,
                   message: str | None = None, status: int = 200, totals: dict | None = None):
    totals = totals or cart_totals(cart)
    return render_template("shop/checkout.html", cart=cart, totals=totals, address=address,
                           notes=notes, errors=errors or {}, message=message,
                           checkout_token=checkout_key(cart)), status


@bp.get("/checkout")
@login_required
def checkout():
    cart = load_cart()
    if not cart["available"]:
        return _nothing_to_order(cart)
    shopper = current_shopper()
    address = ""
    with contextlib.suppress(ApiUnavailable):  # the profile only fills in the address; ordering works
        address = api().get(f"/api/customers/{segment(shopper.id)}").get("address") or ""
    totals = cart_totals(cart)
    emit_event("Checkout Started", {"cartTotal": totals["total"], "itemCount": totals["count"]},
               user_id=shopper.id, session_id=session.get("sid"))
    return _checkout_page(cart, address)


def _nothing_to_order(cart: dict):
    flash("Các sản phẩm trong giỏ hàng đã ngừng bán, nên chưa thể thanh toán." if cart["items"]
          else "Giỏ hàng của bạn đang trống.", "info")
    return redirect(url_for("cart.view"))


def _submitted_lines() -> list[dict]:
    """The lines the shopper confirmed, exactly as shown on the checkout page."""
    form = request.form
    columns = [form.getlist(name) for name in ("productId", "size", "quantity", "price")]
    if not columns[0] or len({len(column) for column in columns}) != 1:
        abort(400)
    lines = []
    for product_id, size, quantity, price in zip(*columns, strict=True):
        line = {"productId": whole_number(product_id), "size": size, "quantity": whole_number(quantity),
                "price": whole_number(price)}
        if None in line.values():
            abort(400)
        lines.append(line)
    return lines


@bp.post("/checkout")
@login_required
def place_order():
    token = request.form.get("checkoutToken", "")
    try:
        uuid.UUID(token)
    except ValueError:
        abort(400)
    address = multi_line(request.form.get("shippingAddress"))
    notes = multi_line(request.form.get("notes"))
    body = {"items": _submitted_lines(), "shippingAddress": address,
            "totalAmount": whole_number(request.form.get("totalAmount"))}
    if notes:
        body["notes"] = notes
    cart = load_cart()
    if checkout_key(cart) != token:
        return _cart_changed(cart, token, body)
    try:
        order = _post_order(body, token)
    except ApiUnavailable as exc:
        return _order_unconfirmed(cart, token, body, exc)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        cart = load_cart()
        if exc.code == "idempotency_key_reused":  # another page of this cart ordered it meanwhile
            return _cart_changed(cart, token, body)
        if not cart["available"]:
            return _nothing_to_order(cart)
        if exc.code == "price_changed":
            return _price_changed(cart, token, body, exc.details)
        if exc.code == "items_unavailable":
            message = "Một số sản phẩm không còn bán. Vui lòng cập nhật giỏ hàng."
        elif "items" in exc.field_errors():  # a cart filled before carts were capped at one order's lines
            message = (f"Một đơn hàng nhận nhiều nhất {ORDER_LINES_MAX} loại bánh và kích cỡ. "
                       "Vui lòng bớt sản phẩm trong giỏ rồi đặt hàng.")
        else:
            message = "Vui lòng kiểm tra lại thông tin giao hàng."
        return _checkout_page(cart, address, notes, exc.field_errors(), message, exc.status)
    session["cart_count"] = 0  # the page showed the whole cart, and the order took it
    return redirect(url_for("orders.detail", order_id=order["id"], placed=1))


def _price_changed(cart: dict, token: str, body: dict, quote):
    """The orders service refused our figures and answered with its own, which are binding: show
    them, so that confirming again submits exactly them and places the order."""
    fee = quote.get("shippingFee") if isinstance(quote, dict) else None
    if type(fee) is int and fee >= 0:
        current_app.extensions[QUOTED_FEE] = fee
    if checkout_key(cart) != token:  # the cart changed as well: confirm it as it is now
        return _cart_changed(cart, token, body)
    cart, totals = _at_quoted_prices(cart, quote)
    message = f"Giá hoặc phí giao hàng đã thay đổi: tổng tiền bây giờ là {vnd(totals['total'])}"
    if body["totalAmount"] not in (None, totals["total"]):
        message += f" (trước đó {vnd(body['totalAmount'])})"
    message += ". Vui lòng xem lại và bấm Đặt hàng để xác nhận."
    return _checkout_page(cart, body["shippingAddress"], body.get("notes", ""), message=message,
                          status=409, totals=totals)


def _at_quoted_prices(cart: dict, quote) -> tuple[dict, dict]:
    """The cart at the prices and total of a price_changed answer, when it is about exactly these
    lines; else at the cart's own prices (a later confirm is checked again anyway)."""
    try:
        quoted = {(line["productId"], line["size"], line["quantity"]): line for line in quote["items"]}
        ours = [(item["productId"], item["size"], item["quantity"]) for item in cart["available"]]
        if sorted(quoted) != sorted(ours):
            return cart, cart_totals(cart)
        available = [{**item, "unitPrice": quoted[key]["price"], "lineTotal": quoted[key]["lineTotal"]}
                     for item, key in zip(cart["available"], ours, strict=True)]
        totals = {"subtotal": quote["subtotal"], "shipping": quote["shippingFee"],
                  "total": quote["totalAmount"], "count": cart["itemCount"]}
    except (KeyError, TypeError):  # not the shape of a price_changed answer
        return cart, cart_totals(cart)
    return {**cart, "available": available}, totals


def _order_unconfirmed(cart: dict, token: str, body: dict, failure: ApiUnavailable):
    """No answer from the orders service in time: it may still have placed the order (it finishes
    what it started). If it did, show it; otherwise never say it failed, but show the page again as
    typed, whose key cannot order twice."""
    order, lookup = None, "no order with this key"
    try:
        order = _placed_with(token)
    except ApiUnavailable:
        lookup = "unavailable"
    if order is not None:
        log.info("order confirmed by its key after orders did not answer", extra={"fields": {
            "orderId": order["id"], "idempotencyKey": token}})
        return redirect(url_for("orders.detail", order_id=order["id"], placed=1))
    # A sale that may be lost: what on-call needs to find it, and never the address or notes.
    log.warning("order not confirmed: orders unavailable", extra={"fields": {
        **failure.upstream_fields(), "idempotencyKey": token, "lookupByKey": lookup,
        "lineCount": len(body["items"]), "itemCount": sum(line["quantity"] for line in body["items"]),
        "totalAmount": body["totalAmount"]}})
    message = ("Chưa xác nhận được đơn hàng vì cửa hàng đang gián đoạn. Vui lòng bấm Đặt hàng lần nữa "
               "sau giây lát: đơn hàng sẽ không bị đặt hai lần.")
    return _checkout_page(cart, body["shippingAddress"], body.get("notes", ""), message=message,
                          status=503)


def _cart_changed(cart: dict, token: str, body: dict):
    """The cart is no longer the one the page showed. Either this page's order went through already
    (a double click whose first answer came back last, or a second tab), or the cart changed: then
    the shopper confirms it again as it is now."""
    order = _placed_with(token)
    if order is not None:
        if (order["shippingAddress"], order.get("notes") or "") == (body["shippingAddress"],
                                                                      body.get("notes", "")):
            return redirect(url_for("orders.detail", order_id=order["id"], placed=1))
        flash("Giỏ hàng này đã được đặt hàng từ một trang khác, với thông tin dưới đây.", "info")
        return redirect(url_for("orders.detail", order_id=order["id"]))
    if not cart["available"]:
        return _nothing_to_order(cart)
    gone = _no_longer_for_sale(cart, body["items"])
    message = (f"Giỏ hàng đã thay đổi: {', '.join(gone)} không còn bán nên không có trong đơn. "
               if gone else "Giỏ hàng đã thay đổi. ") + "Vui lòng xem lại và xác nhận lần nữa."
    return _checkout_page(cart, body["shippingAddress"], body.get("notes", ""), message=message, status=409)


def _no_longer_for_sale(cart: dict, submitted: list[dict]) -> list[str]:
    """The lines the page showed that are in the cart but no longer on sale (a product hidden, a size
    the admin removed meanwhile), as "Mousse Dâu (cỡ 20cm)": the page without them must say why."""
    shown = {(line["productId"], line["size"]) for line in submitted}
    return [f"{item['productName']} (cỡ {item['size']})" for item in cart["items"]
            if not item["available"] and (item["productId"], item["size"]) in shown]


def _placed_with(token: str) -> dict | None:
    """The order this checkout key placed, if any."""
    try:
        return api().get("/api/orders/by-key", params={"idempotencyKey": token})
    except ApiError as exc:
        if exc.status != 404:
            raise
        return None


def _post_order(body: dict, token: str) -> dict:
    waits = 0
    while True:
        try:
            return api().post("/api/orders", json=body, headers={"Idempotency-Key": token})
        except ApiError as exc:
            if exc.code != "idempotency_in_progress" or waits >= IN_PROGRESS_RETRIES:
                raise
        waits += 1
        time.sleep(IN_PROGRESS_WAIT_S)
