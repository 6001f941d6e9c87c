"""Throttling (Flask-Limiter): failed logins per e-mail and every login per client address; failed
password changes per account; registrations per client address.

The e-mail is read exactly as the login reads it (`LoginEmail`: trimmed, then normalised), so every
spelling that signs in to one account counts against that account's one limit. An attempt takes its
place in that limit before its password is checked (Flask-Limiter's hit: on database:// one locked
transaction counts the places and takes one) and gives it back unless the password was wrong, so
however many attempts arrive at once, no more than the limit ever get a password checked.

The client address is the rightmost X-Forwarded-For address outside TRUSTED_PROXY_NETWORKS
(`services.kit.proxies.client_address`). A shopper's login passes browser -> ALB -> storefront ->
ALB -> users; every hop after the browser is ours (on AWS that includes the NAT gateway the
storefront's calls leave through, so its address must be configured too), so each shopper gets their
own bucket, while a direct caller's forged prefix lies left of the address the ALB wrote.

The counters live in the service's database (RATELIMIT_STORAGE_URI=database://, DatabaseStorage
below), so a limit holds across every worker and task; memory:// keeps them per process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from contextlib import contextmanager

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import MemoryStorage, MovingWindowSupport, Storage
from pydantic import ValidationError
from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from services.kit.auth import current_user
from services.kit.db import make_engine
from services.kit.errors import APIError, error_response
from services.kit.proxies import client_address as forwarded_client_address

from .config import UsersConfig
from .models import RateLimitEntry
from .schemas import LoginEmail

log = logging.getLogger(__name__)


def client_address() -> str:
    networks = current_app.extensions["config"].trusted_proxy_networks
    return forwarded_client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                    networks) or "unknown"


def login_email() -> str:
    """The account a login attempt is for, read as the login reads it, as the limiter's key; ""
    when the body has no valid e-mail, which the login refuses (422) without checking a password.
    Read once per request: the limit's key and its exemption both ask."""
    if "login_email" not in g:
        body = request.get_json(silent=True)
        try:
            g.login_email = (LoginEmail.model_validate({"email": body.get("email")}).email
                             if isinstance(body, dict) else "")
        except ValidationError:
            g.login_email = ""
    return g.login_email


_ENTRY = RateLimitEntry.__table__
EMAIL_KEY = "email:"
PASSWORD_KEY = "password:"  # noqa: S105 (a key prefix, not a password)
# Limits that count only wrong passwords: a place is taken first and given back otherwise.
RELEASED_KEYS = (EMAIL_KEY, PASSWORD_KEY)


def stored_key(key: str) -> str:
    """What a limiter key is stored as: its SHA-256, so that any key fits the column (no NUL,
    no length to pass) and the table holds no e-mail addresses."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class DatabaseStorage(Storage, MovingWindowSupport):
    """A limits-library storage, one row per counted attempt (`rate_limit_entries`), the key kept
    as its digest (`stored_key`).

    Login attempts are few and each already costs a bcrypt hash, so a short transaction per check
    is cheap; in exchange every worker and task shares the counts, which memory:// cannot do.
    """

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, engine: Engine,
                 **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.engine = engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Moving window: count `amount` more attempts unless that would pass `limit`."""
        if amount > limit:
            return False
        key, now = stored_key(key), time.time()
        with self._turn(key) as conn:
            if self._held(conn, key, now) + amount > limit:
                return False
            self._add(conn, key, now, now + expiry, amount)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(when the oldest counted attempt was made, how many are counted)"""
        key, now = stored_key(key), time.time()
        with self.engine.connect() as conn:
            oldest, held = conn.execute(select(func.min(_ENTRY.c.at), func.count()).where(
                _ENTRY.c.key == key, _ENTRY.c.at > now - expiry)).one()
        return (oldest, held) if held else (now, 0)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Fixed window: the attempts of one window all end when its first one does."""
        key, now = stored_key(key), time.time()
        with self._turn(key) as conn:
            self._add(conn, key, now, self._window_end(conn, key, now) or now + expiry, amount)
            return self._held(conn, key, now)

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            return self._held(conn, stored_key(key), time.time())

    def get_expiry(self, key: str) -> float:
        key, now = stored_key(key), time.time()
        with self.engine.connect() as conn:
            return self._window_end(conn, key, now) or now

    def release_entry(self, key: str, amount: int = 1) -> None:
        """Give back the `amount` latest places taken for `key` (fewer if fewer are held)."""
        key, now = stored_key(key), time.time()
        with self._turn(key) as conn:
            latest = select(_ENTRY.c.id).where(_ENTRY.c.key == key, _ENTRY.c.expires_at > now).order_by(
                _ENTRY.c.at.desc(), _ENTRY.c.id.desc()).limit(amount)
            conn.execute(delete(_ENTRY).where(_ENTRY.c.id.in_(latest.scalar_subquery())))

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_ENTRY).where(_ENTRY.c.key == stored_key(key)))

    def reset(self) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(_ENTRY)).rowcount

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    @contextmanager
    def _turn(self, key: str):
        """A transaction in which this (stored) key's counts are ours alone, cleared of expired
        attempts."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Checks of one key take turns, so two at once cannot both take the last place.
                # (SQLite needs no lock: the DELETE below takes its single write lock.)
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            conn.execute(delete(_ENTRY).where(_ENTRY.c.expires_at <= time.time()))
            yield conn

    @staticmethod
    def _held(conn, key: str, now: float) -> int:
        return conn.execute(select(func.count()).select_from(_ENTRY).where(
            _ENTRY.c.key == key, _ENTRY.c.expires_at > now)).scalar_one()

    @staticmethod
    def _window_end(conn, key: str, now: float) -> float | None:
        return conn.execute(select(func.min(_ENTRY.c.expires_at)).where(
            _ENTRY.c.key == key, _ENTRY.c.expires_at > now)).scalar_one()

    @staticmethod
    def _add(conn, key: str, now: float, expires_at: float, amount: int) -> None:
        conn.execute(insert(_ENTRY), [{"key": key, "at": now, "expires_at": expires_at}] * amount)


def _place_releaser(storage: Storage) -> Callable[[str], None] | None:
    """How to give a moving-window place back to `storage`; None for the storages that cannot."""
    if isinstance(storage, DatabaseStorage):
        return storage.release_entry
    if isinstance(storage, MemoryStorage):
        def release(key: str) -> None:  # its moving window: a list per key, latest place first
            with storage.locks[key]:
                if places := storage.events.get(key):
                    del places[0]
        return release
    return None


LIMITER_POOL_SIZE = 1  # checks are short and logins few; counted in the RDS connection budget
_limiter_engines: dict[str, Engine] = {}


def _limiter_engine(config: UsersConfig) -> Engine:
    """The limiter's own connection, one per process and database, apart from the request's
    pool: a successful login's place is given back after the response, while the request's
    session may still hold its connection."""
    url = config.sqlalchemy_url
    if url not in _limiter_engines:
        _limiter_engines[url] = make_engine(config.model_copy(update={"db_pool_size": LIMITER_POOL_SIZE}))
    return _limiter_engines[url]


def init_limits(app: Flask, config: UsersConfig) -> Limiter:
    """The limiter around the views that check a password or make an account (apps on one database
    share its counts): logins, password changes, registrations."""
    options = {}
    if config.ratelimit_storage_uri.startswith("database:"):
        options["engine"] = _limiter_engine(config)
    limiter = Limiter(client_address, app=app, storage_uri=config.ratelimit_storage_uri,
                      storage_options=options, strategy="moving-window",
                      key_prefix=config.service_name, headers_enabled=False)
    release = _place_releaser(limiter.storage)
    # A storage that cannot give places back (Redis, Memcached) only counts wrong passwords after
    # the fact, so attempts at the same instant can pass it.
    wrong_only = None if release else (lambda _response: g.get("wrong_password", False))

    def limit(endpoint: str, *limits: tuple[str, Callable[[], str], dict]) -> None:
        view = app.view_functions[endpoint]
        for rule, key, extra in limits:  # checked before the request is validated
            view = limiter.limit(rule, key_func=key, **extra)(view)
        app.view_functions[endpoint] = view

    limit("auth.login",
          (config.login_limit_per_email, lambda: EMAIL_KEY + login_email(),
           {"exempt_when": lambda: not login_email(), "deduct_when": wrong_only}),
          (config.login_limit_per_address, lambda: "address:" + client_address(), {}))
    # A stolen token must not turn the password change into an unthrottled password guesser.
    limit("customers.change_password",
          (config.login_limit_per_email, lambda: f"{PASSWORD_KEY}{request.view_args['customer_id']}",
           {"exempt_when": _not_the_accounts_own_attempt, "deduct_when": wrong_only}))
    # Registering answers whether an e-mail has an account, and each one costs a bcrypt hash.
    limit("auth.register", (config.register_limit_per_address, lambda: "register:" + client_address(), {}))

    if release:
        @app.after_request
        def _give_back_unless_the_password_was_wrong(response: Response) -> Response:
            # Not after a 5xx either: the limiter may have failed before it took the place.
            if g.get("wrong_password") or response.status_code >= 500:
                return response
            for taken in limiter.current_limits:
                # request_args: [key prefix, key, scope]; a breached limit took no place.
                if not taken.breached and taken.request_args[-2].startswith(RELEASED_KEYS):
                    try:
                        release(taken.key)
                    except SQLAlchemyError:  # the answer stands; the place ages out with its window
                        log.warning("rate limit place not given back", exc_info=True)
            return response

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded):
        breached = limiter.current_limit
        retry_after = max(1, math.ceil(breached.window[0] - time.time())) if breached else 60
        log.warning("rate limit reached", extra={"fields": {
            "endpoint": request.endpoint, "limit": str(exc.limit.limit)}})
        return error_response(429, "rate_limited", f"Too many attempts; try again in {retry_after} seconds",
                              {"retryAfter": retry_after}, headers={"Retry-After": str(retry_after)})

    return limiter


def _not_the_accounts_own_attempt() -> bool:
    """Only the account's own token gets a password checked there (the view refuses any other), so
    no other request counts: it could neither use up the account's limit nor see it reached."""
    try:
        caller = current_user()
    except APIError:  # a forged or expired token: the view answers 401
        return True
    return caller is None or caller.id != request.view_args.get("customer_id")


def wrong_password() -> None:
    """Called by a view whose password check failed: that attempt keeps its place in the limits."""
    g.wrong_password = True
