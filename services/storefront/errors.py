"""Error pages: friendly HTML for browsers, the kit's JSON error shape for API clients.

Like microblog, the Accept header decides; the storefront is a web site, so HTML wins unless a
client explicitly prefers JSON. The kit's handlers still run first (logging, status, headers) and
only their body is swapped for a page, so no stack trace or internal message reaches a shopper.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, Response, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from services.kit.errors import error_response

from .api import ApiError, ApiUnavailable
from .session import (
    SESSION_EXPIRED,
    current_shopper,
    posted_before_identity_changed,
    referring_page,
    safe_next,
    sign_out,
)

log = logging.getLogger(__name__)

# status → (title, explanation) shown to shoppers; never the API's own internal message.
FRIENDLY = {
    400: ("Yêu cầu không hợp lệ", "Trang không hiểu được yêu cầu này. Vui lòng thử lại."),
    # Roles travel in the token, so a promotion shows only after signing in again.
    403: ("Không có quyền truy cập", "Tài khoản của bạn không được phép xem trang này. Nếu bạn vừa "
          "được cấp quyền quản trị, hãy đăng xuất rồi đăng nhập lại."),
    404: ("Không tìm thấy trang", "Trang hoặc sản phẩm bạn tìm không tồn tại hoặc đã ngừng bán."),
    405: ("Thao tác không được hỗ trợ", "Trang này không hỗ trợ thao tác đó."),
    409: ("Không thể thực hiện", "Thao tác xung đột với trạng thái hiện tại. Vui lòng tải lại trang."),
    413: ("Dữ liệu quá lớn", "Nội dung gửi lên quá lớn."),
    422: ("Dữ liệu chưa hợp lệ", "Vui lòng kiểm tra lại thông tin đã nhập."),
    429: ("Quá nhiều yêu cầu", "Bạn thao tác quá nhanh. Vui lòng đợi một lát rồi thử lại."),
    500: ("Đã có lỗi xảy ra", "Chúng tôi đã ghi nhận sự cố. Vui lòng thử lại sau ít phút."),
    503: ("Cửa hàng tạm thời gián đoạn",
          "Một phần hệ thống đang bận hoặc đang bảo trì. Vui lòng thử lại sau ít phút."),
}
CSRF_MESSAGE = ("Biểu mẫu đã hết hạn hoặc không hợp lệ", "Vui lòng tải lại trang và gửi lại.")
# A form from a page shown before the shopper signed in or out in another tab.
OVERTAKEN_FORM = ("Bạn vừa đăng nhập hoặc đăng xuất ở một thẻ khác, nên thao tác trên trang cũ chưa được "
                  "thực hiện. Vui lòng thử lại.")
OVERTAKEN_FORM_SIGNED_OUT = ("Bạn đã đăng xuất ở một thẻ khác, nên thao tác trên trang cũ chưa được thực "
                             "hiện. Vui lòng đăng nhập rồi thử lại.")


def wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def error_page(status: int, title: str | None = None, message: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    default_title, default_message = FRIENDLY.get(status, FRIENDLY[500 if status >= 500 else 400])
    html = render_template("errors/error.html", status=status, title=title or default_title,
                           message=message or default_message, retry_url=_retry_url())
    response = Response(html, status=status, mimetype="text/html")
    response.headers.update(headers or {})
    return response


def _retry_url() -> str:
    """Where "Thử lại" leads: this page again; after a form post, the page the form was on (this
    site's only), whose fields the browser's Back button still holds."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return url_for("shop.catalog")
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""),
                     url_for("shop.catalog"))


def _posted_from_this_site() -> bool:
    """Current browsers send Origin with every form post: a forged cross-site logout stays refused,
    from http:// too when the shop is https:// (a network attacker's page). A client without Origin
    (curl, a test) is not a page of another site."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return (parts.scheme, parts.netloc) == (request.scheme, request.host)


def _as_page(json_handler):
    """Wrap one of the kit's JSON handlers: same status and headers, HTML body for browsers."""
    def handler(exc):
        response = json_handler(exc)
        if wants_json():
            return response
        kept = {k: v for k, v in response.headers.items() if k in ("Retry-After", "Allow")}
        return error_page(response.status_code, headers=kept)
    return handler


def install_error_pages(app: Flask) -> None:
    for exc_class, json_handler in list(app.error_handler_spec[None][None].items()):
        app.register_error_handler(exc_class, _as_page(json_handler))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        log.info("csrf rejected: %s", exc.description)
        if wants_json():
            return error_response(400, "csrf_failed", exc.description)
        if request.endpoint == "account.logout" and _posted_from_this_site():
            # Signing out harms no one, and "Đăng xuất" on a page left open from before a sign-in
            # in another tab must still sign out.
            return app.view_functions["account.logout"]()
        if posted_before_identity_changed():
            page = safe_next(referring_page(), url_for("shop.home"))
            if current_shopper() is None:
                flash(OVERTAKEN_FORM_SIGNED_OUT, "info")
                return redirect(url_for("account.login", next=page))
            flash(OVERTAKEN_FORM, "info")
            return redirect(page)
        return error_page(400, *CSRF_MESSAGE)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        if isinstance(exc, ApiUnavailable):
            log.warning("API unavailable on %s %s: %s", request.method, request.path, exc.message,
                        extra={"fields": exc.upstream_fields()})
        elif exc.status >= 500:
            # The upstream's own message stays out: only the call and what it answered.
            log.error("API error on %s %s", request.method, request.path, extra={"fields": {
                **exc.upstream_fields(), "upstreamCode": exc.code}})
        if exc.status == 401 and not wants_json():
            sign_out()
            flash(SESSION_EXPIRED, "info")
            return redirect(url_for("account.login", next=request.path))
        status = exc.status if exc.status in FRIENDLY else (500 if exc.status >= 500 else 400)
        headers = {"Retry-After": "5"} if status == 503 else None
        if wants_json():
            return error_response(status, exc.code, exc.message, exc.details, headers)
        return error_page(status, headers=headers)
