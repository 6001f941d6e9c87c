"""Register, log in, log out, the shopper's profile and password."""

from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..api import ApiError, api, segment
from ..session import (
    current_shopper,
    login_required,
    remember_profile,
    safe_next,
    sign_in,
    sign_out,
)
from ..validation import multi_line
from .cart import add_pending, refresh_cart_count, take_pending_add

bp = Blueprint("account", __name__)

PROFILE_FIELDS = ("name", "phone", "address")
TEXTAREAS = ("address",)


def _form(*names: str) -> dict[str, str]:
    """The fields, trimmed; a textarea's line breaks as LF (multi_line)."""
    return {name: multi_line(request.form.get(name)) if name in TEXTAREAS
            else request.form.get(name, "").strip() for name in names}


def _optional(values: dict[str, str]) -> dict[str, str]:
    """Empty optional fields are left out rather than sent as empty strings."""
    return {key: value for key, value in values.items() if value}


def _throttled(exc: ApiError) -> tuple[str, dict[str, str]]:
    """The users API's 429 as (when to try again, in Vietnamese; its Retry-After header to pass on),
    from its details.retryAfter in seconds: minutes from 90 s, rounded up so the retry is not early."""
    seconds = exc.details.get("retryAfter") if isinstance(exc.details, dict) else None
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        return "Vui lòng đợi một lát rồi thử lại.", {}
    wait = f"{seconds} giây" if seconds < 90 else f"{math.ceil(seconds / 60)} phút"
    return f"Vui lòng thử lại sau {wait}.", {"Retry-After": str(seconds)}


@bp.route("/register", methods=["GET", "POST"])
def register():
    next_url = safe_next(request.values.get("next"), url_for("shop.home"))
    if current_shopper():
        return redirect(next_url)
    values, errors, message, status, headers = {}, {}, None, 200, {}
    if request.method == "POST":
        values = _form("name", "email", "phone", "address")
        body = {**_optional(values), "name": values["name"], "email": values["email"],
                "password": request.form.get("password", "")}
        try:
            result = api().post("/api/auth/register", json=body)
        except ApiError as exc:
            status = 422
            if exc.status == 409:
                errors = {"email": "Email này đã được đăng ký. Hãy đăng nhập."}
            elif exc.status in (400, 422):
                errors = exc.field_errors()
                message = "Vui lòng kiểm tra lại các thông tin được đánh dấu."
            elif exc.status == 429:
                wait, headers = _throttled(exc)
                message, status = f"Bạn thao tác quá nhanh. {wait}", 429
            else:
                raise
        else:
            pending = take_pending_add()
            sign_in(result["token"], result["user"])
            flash(f"Chào mừng {result['user'].get('name') or ''} đến với SweetDream!", "success")
            return redirect(next_url if add_pending(pending) else url_for("shop.catalog"))
    return render_template("account/register.html", values=values, errors=errors, message=message,
                           next_url=next_url), status, headers


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"), url_for("shop.home"))
    if current_shopper():
        return redirect(next_url)
    email, message, status, headers = "", None, 200, {}
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        try:
            result = api().post("/api/auth/login",
                                json={"email": email, "password": request.form.get("password", "")})
        except ApiError as exc:
            if exc.status in (400, 401, 422):
                message, status = "Email hoặc mật khẩu không đúng.", 401
            elif exc.status == 429:
                wait, headers = _throttled(exc)
                message, status = f"Bạn đã thử đăng nhập quá nhiều lần. {wait}", 429
            else:
                raise
        else:
            pending = take_pending_add()
            sign_in(result["token"], result["user"])
            refresh_cart_count()
            flash("Đăng nhập thành công.", "success")
            return redirect(next_url if add_pending(pending) else url_for("shop.catalog"))
    return render_template("account/login.html", email=email, message=message,
                           next_url=next_url), status, headers


@bp.post("/logout")
def logout():
    sign_out()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("shop.home"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def profile():
    shopper = current_shopper()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        values = _form(*PROFILE_FIELDS)
        try:
            user = api().patch(f"/api/customers/{segment(shopper.id)}", json=values)
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            errors, message, status = exc.field_errors(), "Vui lòng kiểm tra lại thông tin.", 422
        else:
            flash("Đã lưu thông tin của bạn.", "success")
            remember_profile(user)
            return redirect(url_for("account.profile"))
    else:
        values = api().get(f"/api/customers/{segment(shopper.id)}")
        remember_profile(values)
    return render_template("account/profile.html", values=values, errors=errors,
                           message=message), status



@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    errors, message, status = {}, None, 200
    if request.method == "POST":
        # Sent as typed: the users API trims passwords itself, the same way at register and login.
        current, new = request.form.get("currentPassword", ""), request.form.get("newPassword", "")
        if new != request.form.get("confirmPassword", ""):
            errors = {"confirmPassword": "Hai mật khẩu mới không khớp."}
        else:
            try:
                # Never repeated: once the first try went through, a second one's current password
                # would be wrong, and the shopper would be told the change failed.
                api().call("PUT", f"/api/customers/{segment(current_shopper().id)}/password",
                           json={"currentPassword": current, "newPassword": new}, idempotent=False)
            except ApiError as exc:
                if exc.status == 429:
                    wait, headers = _throttled(exc)
                    return render_template("account/password.html", errors={}, message=(
                        f"Bạn đã nhập sai mật khẩu hiện tại quá nhiều lần. {wait}")), 429, headers
                if exc.status not in (400, 422):
                    raise
                errors = exc.field_errors()
            else:
                flash("Đã đổi mật khẩu.", "success")
                return redirect(url_for("account.profile"))
        message, status = "Vui lòng kiểm tra lại thông tin.", 422
    return render_template("account/password.html", errors=errors, message=message), status
