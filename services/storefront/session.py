"""The shopper's session: two signed HttpOnly cookies, the identity (API token, session id, CSRF
secret) and the scraps of single pages (flash messages, the cart count, an add waiting for sign-in).

The role shown and enforced here always comes from the verified token, never from the cookie's
other fields: the cookie is signed, but the token's signature is what the APIs trust too.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import uuid
from typing import Any

from flask import Flask, Request, Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer

from services.kit.auth import Principal
from services.kit.errors import Unauthorized

from .api import ApiUnavailable

# Verification failures that mean the token itself is bad, not that the keys were unreachable.
SIGN_OUT_CODES = frozenset({"invalid_token", "token_expired"})
SESSION_EXPIRED = "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại."
CSRF_FIELD = "csrf_token"  # Flask-WTF's key in the session (WTF_CSRF_FIELD_NAME)
CSRF_SALT = "wtf-csrf-token"  # what Flask-WTF signs its tokens with
# This browser's CSRF secrets before its last sign-ins and sign-outs: a form shown before one of them
# is told apart from a forged one (errors.py), though never accepted.
EARLIER_CSRF_SECRETS = "earlier_csrf"
EARLIER_CSRF_KEPT = 3
# Only sign_in, sign_out and a first visit (ensure_session_id) change these; see SplitCookieSession.
IDENTITY_KEYS = frozenset({"sid", "token", "user", CSRF_FIELD, EARLIER_CSRF_SECRETS, "_permanent"})
SCRAPS_COOKIE = "sweetdream_scraps"


class SplitSession(SecureCookieSession):
    """One `session` for the views, loaded from the two cookies, remembering what they held."""

    loaded_identity: dict[str, Any]
    loaded_scraps: dict[str, Any]
    identity_seal: str  # which identity cookie the scraps belong to
    scraps_sent: bool


class SplitCookieSessionInterface(SecureCookieSessionInterface):
    """Identity and scraps in separate signed cookies, each sent only when its own content changed.

    A browser has several requests in flight (tabs, assets), each answered with the session as its
    request carried it. With one cookie, any answer that flashed a message or counted the cart
    re-sent the whole session: an answer landing after a sign-out in another tab signed the shopper
    back in, or switched back to the previous account. Here only a change of identity (sign-in,
    sign-out, a first visit, an expired token) writes the identity cookie, so a late answer cannot
    bring an earlier one back; and its scraps carry the seal of the identity cookie they were
    written beside, so scraps sealed for another identity (that late answer's flash or cart count)
    are ignored instead of shown to whoever is signed in now."""

    session_class = SplitSession
    scraps_salt = "cookie-session-scraps"

    def open_session(self, app: Flask, request: Request) -> SplitSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        max_age = int(app.permanent_session_lifetime.total_seconds())
        sealed_identity = request.cookies.get(self.get_cookie_name(app), "")
        # A cookie from before the split also held scraps: only its identity is kept.
        identity = {key: value for key, value in _unsigned(serializer, sealed_identity, max_age).items()
                    if key in IDENTITY_KEYS}
        seal = _seal(sealed_identity if identity else "")
        sealed_scraps = _unsigned(self._scraps_serializer(app), request.cookies.get(SCRAPS_COOKIE, ""),
                                  max_age)
        scraps = sealed_scraps.get("data") if sealed_scraps.get("for") == seal else None
        scraps = {key: value for key, value in (scraps or {}).items() if key not in IDENTITY_KEYS}
        loaded = self.session_class({**identity, **scraps})
        loaded.loaded_identity, loaded.loaded_scraps = copy.deepcopy(identity), copy.deepcopy(scraps)
        loaded.identity_seal, loaded.scraps_sent = seal, SCRAPS_COOKIE in request.cookies
        return loaded

    def save_session(self, app: Flask, session: SplitSession, response: Response) -> None:
        if session.accessed:
            response.vary.add("Cookie")
        identity = {key: value for key, value in session.items() if key in IDENTITY_KEYS}
        scraps = {key: value for key, value in session.items() if key not in IDENTITY_KEYS}
        seal = session.identity_seal
        identity_changed = identity != session.loaded_identity
        if identity_changed:
            sealed_identity = self.get_signing_serializer(app).dumps(identity) if identity else ""
            self._write(app, response, self.get_cookie_name(app), sealed_identity, session)
            seal = _seal(sealed_identity)
        if scraps != session.loaded_scraps or (identity_changed and (scraps or session.scraps_sent)):
            sealed = self._scraps_serializer(app).dumps({"for": seal, "data": scraps}) if scraps else ""
            self._write(app, response, SCRAPS_COOKIE, sealed, session)

    def _scraps_serializer(self, app: Flask):
        serializer = self.get_signing_serializer(app)
        serializer.salt = self.scraps_salt  # an identity cookie can never pass for scraps, or back
        return serializer

    def _write(self, app: Flask, response: Response, name: str, value: str, session: SplitSession) -> None:
        """Set the cookie to `value`, or delete it when empty, with the session cookie's flags."""
        flags = {"domain": self.get_cookie_domain(app), "path": self.get_cookie_path(app),
                 "secure": self.get_cookie_secure(app), "partitioned": self.get_cookie_partitioned(app),
                 "samesite": self.get_cookie_samesite(app), "httponly": self.get_cookie_httponly(app)}
        if value:
            response.set_cookie(name, value, expires=self.get_expiration_time(app, session), **flags)
        else:
            response.delete_cookie(name, **flags)
        response.vary.add("Cookie")


def _unsigned(serializer, value: str, max_age: int) -> dict[str, Any]:
    """A cookie's content, or nothing when it is missing, expired, tampered with or not a dict."""
    if not value:
        return {}
    try:
        content = serializer.loads(value, max_age=max_age)
    except BadData:
        return {}
    return content if isinstance(content, dict) else {}


def _seal(sealed_identity: str) -> str:
    return hashlib.sha256(sealed_identity.encode()).hexdigest()[:32]


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


def _new_identity(**identity: Any) -> None:
    """Nothing of the previous identity is inherited (scraps, CSRF secret) but the memory of its
    CSRF secret, so that its forms are told they were overtaken rather than refused as forged."""
    earlier = session.get(EARLIER_CSRF_SECRETS, [])
    if CSRF_FIELD in session:
        earlier = [session[CSRF_FIELD], *earlier]
    session.clear()
    session.update(identity)
    session[EARLIER_CSRF_SECRETS] = earlier[:EARLIER_CSRF_KEPT]
    session.permanent = True  # the visitor's sid outlives the browser after a sign-out too
    renew_csrf_secret()


def posted_before_identity_changed() -> bool:
    """Whether this form's CSRF token is one this browser was given before its last sign-ins or
    sign-outs (a page left open in another tab), rather than forged or another browser's."""
    config = current_app.config
    serializer = URLSafeTimedSerializer(config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key,
                                        salt=CSRF_SALT)
    try:
        secret = serializer.loads(request.form.get(CSRF_FIELD, ""),
                                  max_age=config["WTF_CSRF_TIME_LIMIT"])
    except BadData:
        return False
    return secret in session.get(EARLIER_CSRF_SECRETS, [])


def sign_in(token: str, user: dict[str, Any]) -> None:
    _new_identity(sid=session.get("sid") or uuid.uuid4().hex, token=token, user={
        "id": user.get("id"), "email": user.get("email"), "name": user.get("name"),
    })
    g.pop("shopper", None)


def remember_profile(user: dict[str, Any]) -> None:
    """Keep the header's name in step with the profile: in the scraps, as only signing in and out
    write the identity. The profile page calls this with what it shows too, which brings back a
    name whose scraps were lost (a late answer from another tab)."""
    profile = {"name": user.get("name"), "email": user.get("email")}
    if profile == {key: (session.get("user") or {}).get(key) for key in profile}:
        session.pop("profile", None)  # the name signed in with: no scraps needed
    else:
        session["profile"] = profile


def sign_out() -> None:
    sid = session.get("sid")
    _new_identity(**({"sid": sid} if sid else {}))
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
    user = session.get("profile") or session.get("user") or {}
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
