"""Admin pages (role ADMIN from the verified token): orders, customers, catalog, categories,
analytics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from services.kit.api import FIRST_DAY, LAST_DAY

from ..api import ApiError, api, current_config, segment
from ..charts import bar_chart, daily_chart, funnel_chart
from ..formatting import ORDER_STATUSES, VIETNAM, role_label, status_label, vnd
from ..funnel import FunnelUnavailable, build_funnel
from ..session import admin_required, current_shopper, safe_next, sign_out
from ..validation import PRICE_REFUSED, REQUIRED, multi_line, parse_price, whole_number
from .lists import filtered_or_all, order_page, page_arg, past_the_end
from .orders import fetch_order, shown_status, status_changed

bp = Blueprint("admin", __name__, url_prefix="/admin")

ADMIN_PAGE_SIZE = 20
ROLES = ("CUSTOMER", "ADMIN")
ANALYTICS_RANGES = (7, 14, 30, 90)


@bp.before_request
@admin_required
def _admins_only():
    """Every admin page needs the ADMIN role from the verified token (the APIs check it too)."""


class BadFilter(ValueError):
    """A filter in the URL that means nothing (an unknown status, 2026-13-01, from after to)."""


def _day(name: str) -> date | None:
    """The day named by a date filter; None when the filter is not in use."""
    raw = request.args.get(name, "")
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError as exc:
        raise BadFilter(name) from exc
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:  # the orders API refuses it (422)
        raise BadFilter(name)
    return day


def _order_filters() -> dict[str, str]:
    status = request.args.get("status", "")
    if status and status not in ORDER_STATUSES:
        raise BadFilter("status")
    first, last = _day("from"), _day("to")
    if first and last and first > last:
        raise BadFilter("from")
    return {"status": status, "from": first.isoformat() if first else "",
            "to": last.isoformat() if last else ""}


def _form_choice(field: str, choices: tuple[str, ...]) -> str:
    """A posted value from a fixed list; anything else is a forged form (400)."""
    value = request.form.get(field, "")
    if value not in choices:
        abort(400)
    return value


# What the APIs answer to a form they will not take: shown again on the page, never a crash.
FORM_REFUSALS = (400, 409, 422)


def _submit(call, refusal: Callable[[ApiError], str],
            field_errors: Callable[[ApiError], dict[str, str]] = ApiError.field_errors):
    """Send an admin form to the API: (its answer, None), or (None, (field errors, status, message))
    when the API refused it. An unknown record is this page's 404."""
    try:
        return call(), None
    except ApiError as exc:
        if exc.status == 404:
            abort(404)
        if exc.status not in FORM_REFUSALS:
            raise
        return None, (field_errors(exc), exc.status, refusal(exc))


def _patched(path: str, body: dict, refused: Callable[[ApiError], str]) -> bool:
    """Apply an admin change: an unknown record is this page's 404, a 409 is flashed as
    `refused(error)`."""
    try:
        api().patch(path, json=body)
    except ApiError as exc:
        if exc.status == 404:
            abort(404)
        if exc.status != 409:
            raise
        flash(refused(exc), "error")
        return False
    return True


@bp.get("/")
def index():
    return redirect(url_for("admin.orders"))


# ---- orders ---------------------------------------------------------------------------------

@bp.get("/orders")
def orders():
    message = None
    try:
        filters = _order_filters()
    except BadFilter:
        # As the shop's catalog does: say so and show everything, rather than quietly ignore it.
        message = "Bộ lọc không hợp lệ; đang hiển thị tất cả đơn hàng."
        filters = {"status": "", "from": "", "to": ""}
    page_args = {k: v for k, v in filters.items() if v}
    result, moved = order_page(
        lambda position: api().get("/api/orders",
                                   params={**filters, **position, "pageSize": ADMIN_PAGE_SIZE}),
        "admin.orders", page_args)
    if moved:
        return moved
    return render_template("admin/orders.html", result=result, filters=filters, page_args=page_args,
                           names=_customer_names({order["userId"] for order in result["orders"]}),
                           message=message, back=request.full_path.rstrip("?"))


def _customer_names(customer_ids: set[int]) -> dict[int, str]:
    """{id: name} for a page of orders, in one call; without the users API the page shows ids."""
    if not customer_ids:
        return {}
    try:
        found = api().get("/api/customers", params={"ids": ",".join(map(str, sorted(customer_ids))),
                                                    "pageSize": 100})
    except ApiError:
        return {}
    return {customer["id"]: customer["name"] for customer in found["items"]}


@bp.get("/orders/<int:order_id>")
def order(order_id: int):
    found = fetch_order(order_id)
    customer, contact_note = _customer_contact(found["userId"])
    # Back to the list as the admin left it (status tab, dates, page); only ever the orders list.
    listing = safe_next(request.args.get("list"), url_for("admin.orders"))
    if urlsplit(listing).path != url_for("admin.orders"):
        listing = url_for("admin.orders")
    return render_template("admin/order.html", order=found, customer=customer, contact_note=contact_note,
                           listing=listing, back=request.full_path.rstrip("?"))


# Why an order page shows no contact details, by the users API's answer; the page renders anyway.
CONTACT_NOTES = {
    # Users checks the role in its own table: a demoted admin's session keeps the orders pages
    # until its token's admin window ends, but not the customers' details (README "Role changes").
    403: "Không hiển thị được tên, e-mail và số điện thoại: xem thông tin liên hệ của khách cần quyền "
         "quản trị trên hệ thống tài khoản, mà phiên này không còn (có thể quyền của bạn vừa bị thu "
         "hồi). Hãy đăng nhập lại.",
    404: "Không tìm thấy tài khoản của khách này.",
    503: "Chưa lấy được tên, e-mail và số điện thoại: hệ thống tài khoản đang gián đoạn. "
         "Hãy tải lại trang sau ít phút.",
}


def _customer_contact(customer_id: int) -> tuple[dict | None, str | None]:
    """(the customer's account, None) from the users API as this admin, or (None, a note)."""
    try:
        return api().get(f"/api/customers/{segment(customer_id)}"), None
    except ApiError as exc:
        if exc.status not in CONTACT_NOTES:
            raise
        return None, CONTACT_NOTES[exc.status]


@bp.post("/orders/<int:order_id>/status")
def set_order_status(order_id: int):
    status = _form_choice("status", ORDER_STATUSES)
    back = safe_next(request.form.get("next"), url_for("admin.orders"))
    label = status_label(status)
    if _patched(f"/api/orders/{order_id}/status", {"status": status, **shown_status()},
                lambda exc: (status_changed(order_id, exc, f"chuyển sang “{label}”", status)
                             or f"Đơn #{order_id} không thể chuyển sang “{label}” từ trạng thái hiện tại.")):
        flash(f"Đơn #{order_id}: đã chuyển sang “{label}”.", "success")
    return redirect(back)


# ---- customers ------------------------------------------------------------------------------

def _searched(path: str, everything: str, **params: str) -> tuple[dict, str, str | None]:
    """(the API's page for the URL's search `q` and page, the search in use, a message): a search
    the API refuses (a control character) shows `everything` from the first page, and says so."""
    result, used, message = filtered_or_all(
        lambda args: api().get(path, params={**params, **args, "pageSize": ADMIN_PAGE_SIZE}),
        {"q": request.args.get("q", "").strip()[:100], "page": page_arg()},
        lambda _dropped: f"Tìm kiếm không hợp lệ; đang hiển thị tất cả {everything}.")
    return result, used.get("q", ""), message


@bp.get("/customers")
def customers():
    result, search, message = _searched("/api/customers", "khách hàng")
    moved = past_the_end(result["page"], result, "admin.customers", {"q": search} if search else {})
    if moved:
        return moved
    return render_template("admin/customers.html", result=result, search=search, page=result["page"],
                           message=message, roles=ROLES, back=request.full_path.rstrip("?"))


@bp.post("/customers/<int:customer_id>/role")
def set_role(customer_id: int):
    role = _form_choice("role", ROLES)
    back = safe_next(request.form.get("next"), url_for("admin.customers"))
    # Saved as shown: no call, and no warning about an admin's open session for a role kept.
    if not _changes({"role": role}, request.form, lambda form: {"role": form.get("role", "")}):
        flash(NOTHING_CHANGED, "info")
        return redirect(back)
    if not _patched(f"/api/customers/{segment(customer_id)}/role", {"role": role},
                    lambda _: "Không thể đổi vai trò: cửa hàng phải luôn có ít nhất một quản trị viên."):
        return redirect(back)
    if customer_id == current_shopper().id and role != "ADMIN":
        sign_out()  # this session's token would keep admin pages open until it expires
        flash("Bạn đã bỏ quyền quản trị của chính mình và đã được đăng xuất.", "info")
        return redirect(url_for("shop.home"))
    flash(f"Đã đổi vai trò của khách #{customer_id} thành “{role_label(role)}”. {_when_it_applies(role)}",
          "success")
    return redirect(back)


def _when_it_applies(role: str) -> str:
    """Every service trusts the role in a token until it expires (README "Role changes")."""
    if role == "ADMIN":
        return "Quyền quản trị có hiệu lực từ lần đăng nhập tiếp theo của người này."
    minutes = current_config().admin_token_ttl_seconds // 60
    return (f"Người này không còn quản lý được khách hàng, nhưng phiên đang mở của họ vẫn xử lý được "
            f"đơn hàng và sản phẩm thêm tối đa {minutes} phút, cho đến khi hết hạn.")


# ---- analytics ------------------------------------------------------------------------------

@bp.get("/analytics")
def analytics():
    days, message = whole_number(request.args.get("days")), None
    if days not in ANALYTICS_RANGES:
        # Said, as a bad filter is on the orders list: a typed ?days=1000 is not silently 30.
        if "days" in request.args:
            message = "Khoảng thời gian không hợp lệ; đang hiển thị 30 ngày gần nhất."
        days = 30
    today = datetime.now(UTC).astimezone(VIETNAM).date()
    first = today - timedelta(days=days - 1)
    summary = api().get("/api/orders/summary", params={"from": first.isoformat(),
                                                        "to": today.isoformat(), "limit": 8})
    best = summary["bestSellersByQuantity"]
    by_category = summary["revenueByCategory"]
    funnel, funnel_unavailable = None, False
    try:
        funnel = build_funnel(current_app.extensions["funnel_source"], days, today)
    except FunnelUnavailable:
        funnel_unavailable = True  # the sales charts still render
    charts = {
        "daily": daily_chart(summary["days"]),
        "best": bar_chart([(row["productName"], row["quantity"],
                            f"{row['quantity']} cái · {vnd(row['revenue'])}") for row in best],
                          chart_id="best-sellers", title="Bán chạy nhất (số lượng)",
                          description="Các sản phẩm bán nhiều nhất theo số lượng trong khoảng thời gian."),
        "categories": bar_chart([(row["category"] or "Khác", row["revenue"], vnd(row["revenue"]))
                                 for row in by_category],
                                chart_id="categories", title="Doanh thu theo danh mục",
                                description="Doanh thu theo danh mục (giá sản phẩm, không gồm phí giao)."),
        "funnel": funnel_chart(funnel.steps) if funnel else None,
    }
    return render_template("admin/analytics.html", summary=summary, charts=charts, funnel=funnel,
                           funnel_unavailable=funnel_unavailable, days=days, ranges=ANALYTICS_RANGES,
                           message=message)


# ---- catalog ----------------------------------------------------------------------------------

# An edit form also carries, in hidden fields named RENDERED + the field's name, the values it was
# rendered with. A save sends only the fields the admin changed, so a page left open while another
# admin saved does not put back what it showed (a rename, the active flag, a size's price).
RENDERED = "was_"
NOTHING_CHANGED = "Không có thay đổi nào để lưu."


def _rendered(form) -> MultiDict:
    """What an edit form showed when it was rendered (its was_* fields), under the fields' names."""
    return MultiDict([(key[len(RENDERED):], value) for key, value in form.items(multi=True)
                      if key.startswith(RENDERED)])


def _changes(body: dict, form, read: Callable[[MultiDict], dict]) -> dict:
    """The fields of `body` (the form as `read` reads it) that differ from what the form showed,
    read the same way; a field the form did not carry as rendered is sent as it is."""
    shown = _rendered(form)
    before = read(shown)
    return {key: value for key, value in body.items() if key not in shown or before[key] != value}


def _product_body(form) -> dict:
    """Text fields as typed; the category as an id when it is one (the API validates the rest)."""
    body: dict = {"name": form.get("name", "").strip(),
                  "description": multi_line(form.get("description")),
                  "active": form.get("active") == "on"}
    category = form.get("categoryId", "")
    category_id = whole_number(category)
    body["categoryId"] = category if category_id is None else category_id
    return body


def _product_shown(product: dict) -> dict:
    """The product form's fields as rendered from a saved product (RENDERED)."""
    return {"name": product["name"], "description": product.get("description") or "",
            "categoryId": (product.get("category") or {}).get("id", ""),
            "active": "on" if product.get("active") else "off"}


def _size_body(form) -> tuple[dict, dict[str, str]]:
    """A size form as the API takes it, and what is wrong with it before asking: a price that is
    not plainly a number of đồng is refused here, never guessed at (25.5 is not 255 ₫)."""
    typed = form.get("price", "").strip()
    price = parse_price(typed)
    body = {"size": form.get("size", "").strip(), "price": typed if price is None else price}
    if price is None:
        return body, {"price": PRICE_REFUSED if typed else REQUIRED}
    return body, {}


def _size_typed(form) -> dict:
    """A size form as typed, to show again when it is refused (1.000.000.001, not 1000000001)."""
    return {"size": form.get("size", "").strip(), "price": form.get("price", "").strip()}


@bp.get("/products")
def products():
    result, search, message = _searched("/api/products", "sản phẩm", includeInactive="true", sort="name")
    moved = past_the_end(result["page"], result, "admin.products", {"q": search} if search else {})
    if moved:
        return moved
    return render_template("admin/products.html", result=result, page=result["page"], search=search,
                           message=message)


@bp.route("/products/new", methods=["GET", "POST"])
def new_product():
    values, errors, message, status = {"active": True}, {}, None, 200
    if request.method == "POST":
        body = _product_body(request.form)
        size, local_errors = _size_body(request.form)
        body["sizes"] = [size]
        values = {**body, "sizes": [_size_typed(request.form)]}
        check_again = "Vui lòng kiểm tra lại thông tin sản phẩm."
        # A price refused here still goes to the API, as null (which it can only refuse), so one
        # submit shows every field's error, not the price's alone; ours is the price's message.
        if local_errors:
            body["sizes"] = [{**size, "price": None}]
        created, refused = _submit(
            lambda: api().post("/api/products", json=body),
            lambda exc: ("Đường dẫn (slug) của sản phẩm đã tồn tại." if exc.status == 409
                         else check_again),
            # The form's size and price fields are the product's first size.
            lambda exc: {**exc.field_errors(), **exc.field_errors(within="sizes.0")})
        if refused is None:
            flash(f"Đã tạo sản phẩm “{created['name']}”.", "success")
            return redirect(url_for("admin.product", product_id=created["id"]))
        errors, status, message = refused
        errors = {**errors, **local_errors}
    return render_template("admin/product_new.html", values=values, errors=errors, message=message,
                           categories=api().get("/api/categories")["items"]), status


def _admin_product(product_id: int) -> dict:
    try:
        return api().get(f"/api/products/{product_id}")  # admins see inactive ones too
    except ApiError as exc:
        if exc.status in (404, 422):
            abort(404)
        raise


class SizeGone(Exception):
    """The size a form is about was deleted meanwhile (by another admin, or in another tab)."""


def _product_page(product_id: int, errors: dict | None = None, message: str | None = None,
                  status: int = 200, size_form: dict | None = None, product_form: dict | None = None):
    """The product editor. A refused form is shown again as typed, with its errors:
    `product_form` {"values": ..., "rendered": what the form was rendered with}; `size_form` the
    same and "key": the size's id, or "new" for the add form. SizeGone when that size is gone."""
    product = _admin_product(product_id)
    size_form = size_form or {}
    if size_form.get("key", "new") != "new" and all(s["id"] != size_form["key"] for s in product["sizes"]):
        raise SizeGone
    product_form = product_form or {}
    product_form = {"values": product_form.get("values", product),
                    "rendered": {**_product_shown(product), **product_form.get("rendered", {})}}
    return render_template("admin/product_edit.html", product=product,
                           categories=api().get("/api/categories")["items"], errors=errors or {},
                           message=message, size_form=size_form, product_form=product_form), status


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
def product(product_id: int):
    if request.method == "GET":
        return _product_page(product_id)
    typed = _product_body(request.form)
    changes = _changes(typed, request.form, _product_body)
    if not changes:
        flash(NOTHING_CHANGED, "info")
        return redirect(url_for("admin.product", product_id=product_id))
    _, refused = _submit(
        lambda: api().patch(f"/api/products/{product_id}", json=changes),
        lambda _: "Vui lòng kiểm tra lại thông tin sản phẩm.")
    if refused is None:
        flash("Đã lưu sản phẩm.", "success")
        return redirect(url_for("admin.product", product_id=product_id))
    errors, status, message = refused
    return _product_page(product_id, errors, message, status,
                         product_form={"values": typed, "rendered": _rendered(request.form).to_dict()})


def _admin_change(call, *, success: str | Callable[[Any], str], refusal: Callable[[ApiError], str],
                  back: str):
    """Apply an admin change: said with `success` (or `success(the API's answer)`); an unknown
    record is a 404; a refusal (400/409/422) is flashed with `refusal(error)`, not a crash; either
    way back to `back`."""
    answer, refused = _submit(call, refusal)
    if refused is None:
        flash(success(answer) if callable(success) else success, "success")
    else:
        flash(refused[2], "error")
    return redirect(back)


def _on_size(product_id: int, call: Callable[[], object]):
    """A call about one of a product's sizes: SizeGone when the catalog no longer has that size
    but still has the product (a gone product stays this page's 404)."""
    try:
        return call()
    except ApiError as exc:
        if exc.status != 404:
            raise
        _admin_product(product_id)
        raise SizeGone from exc


def _save_size(product_id: int, form_key: int | str, send: Callable[[dict], object], success: str):
    """Add or change a size from its form, sending only what changed: back to the editor saying
    `success` (with {size}), or the editor again with the form as typed and what is wrong next to
    its fields, nothing written."""
    body, errors = _size_body(request.form)
    changes = _changes(body, request.form, lambda form: _size_body(form)[0])
    if not changes:
        flash(NOTHING_CHANGED, "info")
        return redirect(url_for("admin.product", product_id=product_id))
    status, message = 422, "Không lưu được kích cỡ. Vui lòng kiểm tra lại ô được đánh dấu."
    if not errors:
        _, refused = _submit(lambda: send(changes), lambda exc: (
            f"Không lưu được kích cỡ: sản phẩm đã có cỡ “{body['size']}”." if exc.status == 409
            else message))
        if refused is None:
            flash(success.format(size=body["size"]), "success")
            return redirect(url_for("admin.product", product_id=product_id))
        errors, status, message = refused
    return _product_page(product_id, message=message, status=status, size_form={
        "key": form_key, "values": _size_typed(request.form), "errors": errors,
        "rendered": _rendered(request.form).to_dict()})


def _size_gone(product_id: int, message: str, category: str):
    """Back to the editor, which lists the sizes there are now, saying that this one is gone."""
    name = request.form.get(f"{RENDERED}size", "").strip()[:20]
    flash(message.format(size=f"“{name}”" if name else "này"), category)
    return redirect(url_for("admin.product", product_id=product_id))


@bp.post("/products/<int:product_id>/sizes")
def add_size(product_id: int):
    return _save_size(product_id, "new",
                      lambda body: api().post(f"/api/products/{product_id}/sizes", json=body),
                      "Đã thêm kích cỡ {size}.")


@bp.post("/products/<int:product_id>/sizes/<int:size_id>")
def update_size(product_id: int, size_id: int):
    path = f"/api/products/{product_id}/sizes/{size_id}"
    try:
        return _save_size(product_id, size_id,
                          lambda body: _on_size(product_id, lambda: api().patch(path, json=body)),
                          "Đã lưu kích cỡ {size}.")
    except SizeGone:
        return _size_gone(product_id, "Không lưu được: kích cỡ {size} không còn nữa (có thể một quản "
                                      "trị viên khác vừa xóa). Dưới đây là các kích cỡ hiện có.", "error")


@bp.post("/products/<int:product_id>/sizes/<int:size_id>/delete")
def delete_size(product_id: int, size_id: int):
    path = f"/api/products/{product_id}/sizes/{size_id}"
    try:
        # The removed size with how many carts hold it: those shoppers now see it as no longer sold.
        return _admin_change(lambda: _on_size(product_id, lambda: api().delete(
                                 path, headers={"Prefer": "return=representation"})),
                             success=_size_removed,
                             refusal=lambda _: "Không xóa được kích cỡ: sản phẩm cần ít nhất một kích cỡ.",
                             back=url_for("admin.product", product_id=product_id))
    except SizeGone:
        return _size_gone(product_id, "Kích cỡ {size} đã được xóa trước đó.", "info")


def _size_removed(removed: dict | None) -> str:
    if removed is None:  # a catalog from before cartCount (mid-deploy) answers 204
        return "Đã xóa kích cỡ."
    carts = removed["cartCount"]
    in_carts = f"; {carts} giỏ hàng đang có cỡ này sẽ thấy cỡ này không còn bán" if carts else ""
    return f"Đã xóa kích cỡ {removed['size']}{in_carts}."


# ---- categories -------------------------------------------------------------------------------

def _category_body(form) -> dict:
    body = {"name": form.get("name", "").strip()}
    description = multi_line(form.get("description"))
    return {**body, "description": description} if description else body


def _category_taken(name: str) -> str:
    return f"Đã có danh mục tên “{name}” (không phân biệt hoa thường) hoặc trùng đường dẫn."


def _categories_page(values: dict | None = None, errors: dict | None = None, message: str | None = None,
                     status: int = 200, rename: dict | None = None):
    """The categories page; `rename` is a refused rename shown again as typed, its error next to the
    name: {"id", "name", "error", "rendered": the name that form showed}."""
    # Counted with inactive products: a category can be deleted only when it has none at all.
    listed = api().get("/api/categories", params={"includeInactive": "true"})["items"]
    return render_template("admin/categories.html", categories=listed, values=values or {},
                           errors=errors or {}, message=message, rename=rename or {}), status


@bp.route("/categories", methods=["GET", "POST"])
def categories():
    if request.method == "GET":
        return _categories_page()
    values = _category_body(request.form)
    created, refused = _submit(
        lambda: api().post("/api/categories", json=values),
        lambda exc: (_category_taken(values["name"]) if exc.status == 409
                     else "Vui lòng kiểm tra lại thông tin danh mục."))
    if refused is None:
        flash(f"Đã tạo danh mục “{created['name']}”.", "success")
        return redirect(url_for("admin.categories"))
    errors, status, message = refused
    return _categories_page(values, errors, message, status)


def _category_change(call, success: str, refused: Callable[[ApiError], str]):
    """A delete; `refused` words the catalog's 409."""
    def refusal(exc: ApiError) -> str:
        if exc.status == 409:
            return refused(exc)
        return " ".join(["Tên danh mục không hợp lệ.", *exc.field_errors().values()])
    return _admin_change(call, success=success, refusal=refusal, back=url_for("admin.categories"))


@bp.post("/categories/<int:category_id>")
def rename_category(category_id: int):
    """A rename, sent only when the name differs from the one the form showed; a refused one is
    shown again as typed, with the reason next to it."""
    name = request.form.get("name", "").strip()
    if not _changes({"name": name}, request.form, lambda form: {"name": form.get("name", "").strip()}):
        flash(NOTHING_CHANGED, "info")
        return redirect(url_for("admin.categories"))
    _, refused = _submit(
        lambda: api().patch(f"/api/categories/{category_id}", json={"name": name}),
        lambda exc: (_category_taken(name) if exc.status == 409
                     else exc.field_errors().get("name") or "Tên danh mục không hợp lệ."))
    if refused is None:
        flash(f"Đã đổi tên danh mục thành “{name}”.", "success")
        return redirect(url_for("admin.categories"))
    _, status, message = refused
    return _categories_page(status=status, rename={"id": category_id, "name": name, "error": message,
                                                   "rendered": _rendered(request.form).get("name")})


def _still_has_products(name: str, exc: ApiError) -> str:
    """The catalog's 409 in the shop's words; it counts inactive products too."""
    count = exc.details.get("productCount") if isinstance(exc.details, dict) else None
    if not count:
        return f"Không thể xóa danh mục “{name}”: {exc.message}"
    return (f"Không thể xóa danh mục “{name}”: danh mục vẫn còn {count} sản phẩm (kể cả sản phẩm "
            "đang ẩn). Hãy chuyển chúng sang danh mục khác trước.")


@bp.post("/categories/<int:category_id>/delete")
def delete_category(category_id: int):
    name = request.form.get("name", "").strip()[:100] or f"#{category_id}"  # for the message only
    return _category_change(lambda: api().delete(f"/api/categories/{category_id}"),
                            f"Đã xóa danh mục “{name}”.", lambda exc: _still_has_products(name, exc))
