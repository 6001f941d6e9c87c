"""The shopper's session: a signed HttpOnly cookie holding the API token and a session id.

The role shown and enforced here always comes from the verified token, never from the cookie's
other fields: the cookie is signed, but the token's signature is what the APIs trust too.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_wtf.csrf import generate_csrf

from services.kit.auth import Principal
from services.kit.errors import Unauthorized

from .api import ApiUnavailable

# Verification failures that mean the token itself is bad, not that the keys were unreachable.
SIGN_OUT_CODES = frozenset({"invalid_token", "token_expired"})
SESSION_EXPIRED = "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại."


def renew_csrf_secret() -> None:
    """A new CSRF secret in the session now, in the same cookie as the change that needs it.

    Were it created lazily by the first page with a form, showing that form would rewrite the
    cookie, and any slower response carrying the previous cookie (another tab, an asset) would
    drop the secret again: the form then fails as "expired" (README, storefront Security)."""
    g.pop("csrf_token", None)  # Flask-WTF keeps the current secret's token for the request
    generate_csrf()


def ensure_session_id() -> str:
    """Every visitor gets an opaque id, sent as X-Session-Id so events tie a visit together,
    and a CSRF secret, both in their first response."""
    if "sid" not in session:
        session["sid"] = uuid.uuid4().hex
        session.permanent = True
    if "csrf_token" not in session:
        renew_csrf_secret()
    return session["sid"]


def sign_in(token: str, user: dict[str, Any]) -> None:
    sid = session.get("sid") or uuid.uuid4().hex
    session.clear()  # a new login never inherits the previous visitor's state (or CSRF secret)
    session.update(sid=sid, token=token, user={
        "id": user.get("id"), "email": user.get("email"), "name": user.get("name"),
    })
    session.permanent = True
    renew_csrf_secret()
    g.pop("shopper", None)


def remember_profile(user: dict[str, Any]) -> None:
    """Keep the header's name in step after a profile change."""
    session["user"] = {**session.get("user", {}), "name": user.get("name"), "email": user.get("email")}


def sign_out() -> None:
    sid = session.get("sid")
    session.clear()
    if sid:
        session["sid"] = sid
    renew_csrf_secret()
    g.shopper = None


def current_shopper() -> Principal | None:
    """The signed-in user from the verified token, or None (an expired token signs them out)."""
    if "shopper" not in g:
        token = session.get("token")
        shopper = None
        g.shopper = None  # also what error pages see if verification cannot happen at all
        if token:
            try:
                shopper = current_app.extensions["token_verifier"].verify(token)
            except Unauthorized as exc:
                if exc.code not in SIGN_OUT_CODES:
                    # The keys could not be fetched: the token may be fine, so keep the session.
                    raise ApiUnavailable("Sign-in keys are unavailable") from exc
                sign_out()
                flash(SESSION_EXPIRED, "info")
                g.session_expired = True
        g.shopper = shopper
    return g.shopper


def display_name() -> str:
    user = session.get("user") or {}
    return user.get("name") or user.get("email") or ""


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: never an open redirect to another host, else `default`.

    Browsers read a backslash as "/" and drop tabs and newlines inside a URL ("/<TAB>/evil.example"
    opens //evil.example), and a newline cannot go in a Location header at all: so no backslash,
    control character or whitespace anywhere, and no "//" at the start."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(char.isspace() or not char.isprintable() for char in target)):
        return default
    return target


def referring_page() -> str | None:
    """The path of the page this request came from, when it is one of ours (else None)."""
    referrer = request.referrer
    if not referrer or not referrer.startswith(request.host_url):
        return None
    return "/" + referrer[len(request.host_url):]


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_shopper() is None:
            target = request.full_path.rstrip("?") if request.method == "GET" else referring_page()
            if not g.get("session_expired"):  # that message already says to sign in
                flash("Vui lòng đăng nhập để tiếp tục.", "info")
            return redirect(url_for("account.login", next=safe_next(target, "/")))
        return view(*args, **kwargs)
    return wrapper


def admin_required(view):
    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_shopper().is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapper
