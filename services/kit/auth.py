"""JWT verification (ES256) and the auth helpers every service uses.

Only the users service signs tokens. Everyone else verifies with the public key, from config or
from the users service's JWKS; no service calls users to check a token.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from flask import current_app, g, request

from .config import ServiceConfig
from .db import MAX_ID
from .errors import Forbidden, Unauthorized

ALGORITHM = "ES256"
ROLES = ("CUSTOMER", "ADMIN")
REQUIRED_CLAIMS = ["sub", "email", "role", "iss", "aud", "iat", "exp"]
# Distinct valid tokens a process remembers as checked (a few hundred bytes each).
VERIFIED_TOKENS_KEPT = 4096
# Fetches of the JWKS are at least this far apart (PublishedKeys).
JWKS_RETRY_SECONDS = 30
# `sub` is a user id as the users service writes it: ASCII digits, no sign, spaces, underscores or
# leading zero (Python's int() would also read "0_4", " 4 " and "٤" as 4).
SUBJECT = re.compile(r"[1-9][0-9]{0,9}")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


def _user_id(subject: str) -> int:
    """The user id a token's `sub` names; ValueError unless it is one, written canonically."""
    if not SUBJECT.fullmatch(subject) or int(subject) > MAX_ID:
        raise ValueError("sub is not a user id")
    return int(subject)


def _public_key(pem: str):
    """Parsed once at start: PyJWT would parse a PEM string again for every token."""
    return jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(pem)


class PublishedKeys:
    """The signing keys the users service publishes (its JWKS), by key id.

    Fetched again once `lifespan` seconds old, so a key removed from the JWKS stops verifying
    within that time. A fetch that fails keeps the last good set: while users is down its tokens
    still verify. Fetches are at least `retry` seconds apart, so neither an outage nor made-up key
    ids can make every request wait on the JWKS.
    """

    def __init__(self, url: str, lifespan: float, retry: float):
        self._fetcher = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=3)
        self._lifespan = lifespan
        self._retry = retry
        self._keys: dict[str, object] = {}
        self._fresh_until = 0.0
        self._tried_at = float("-inf")  # never tried
        self._lock = threading.Lock()

    def key(self, kid: str):
        # One thread fetches; others that know their key go on with the keys at hand meanwhile.
        if self._wanted(kid) and self._lock.acquire(blocking=kid not in self._keys):
            try:
                if self._wanted(kid):  # not fetched by another thread meanwhile
                    self._fetch()
            finally:
                self._lock.release()
        if not self._keys:
            raise Unauthorized("Token signing keys are unavailable")
        if kid not in self._keys:
            raise Unauthorized("Invalid token", code="invalid_token")
        return self._keys[kid]

    def _wanted(self, kid: str) -> bool:
        now = time.monotonic()
        outdated = now >= self._fresh_until or kid not in self._keys
        return outdated and now >= self._tried_at + self._retry

    def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        try:
            self._keys = {key.key_id: key.key for key in self._fetcher.get_signing_keys()}
        except jwt.PyJWTError:  # unreachable, or not a JWKS
            log.warning("could not fetch the token signing keys; keeping the last ones")
            return
        self._fresh_until = self._tried_at + self._lifespan


class TokenVerifier:
    """Verifies tokens against a fixed public key or a (cached) JWKS endpoint."""

    def __init__(self, config: ServiceConfig):
        self.issuer = config.jwt_issuer
        self.audience = config.jwt_audience
        self.admin_ttl_seconds = config.admin_token_ttl_seconds
        self._public_key = None
        self._jwks = None
        if config.jwt_public_key:
            self._public_key = _public_key(config.jwt_public_key)
        elif config.jwt_public_key_file:
            self._public_key = _public_key(Path(config.jwt_public_key_file).read_text())
        elif config.jwks_url:
            self._jwks = PublishedKeys(config.jwks_url, lifespan=config.jwks_cache_seconds,
                                       retry=min(JWKS_RETRY_SECONDS, config.jwks_cache_seconds))

    @property
    def configured(self) -> bool:
        return self._public_key is not None or self._jwks is not None

    def _key_for(self, token: str):
        if self._public_key is not None:
            return self._public_key
        if self._jwks is None:
            raise Unauthorized("Token verification is not configured")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token", code="invalid_token") from exc
        if not isinstance(kid, str):
            raise Unauthorized("Invalid token", code="invalid_token")
        return self._jwks.key(kid)

    def verify(self, token: str) -> Principal:
        if self._jwks is not None:
            self._key_for(token)  # a remembered check must not outlive its key's publication
        principal, issued_at, expires_at = self._checked(token)
        now = time.time()
        if expires_at <= now:  # checked again here: the signature check below is remembered
            raise Unauthorized("Token has expired", code="token_expired")
        if principal.is_admin and issued_at + self.admin_ttl_seconds <= now:
            # Whatever its exp says: this bounds how long a demoted admin keeps admin rights.
            raise Unauthorized("Admin token has expired", code="token_expired")
        return principal

    @functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)  # noqa: B019 (one verifier per app, for good)
    def _checked(self, token: str) -> tuple[Principal, int, int]:
        """Signature, issuer, audience and claims of a token, checked once per process.

        A shopper sends the same token with every request for a day; its ES256 check was a
        large part of each authenticated call's CPU. Failures are raised, so never remembered.
        """
        try:
            key = self._key_for(token)
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            principal = Principal(id=_user_id(claims["sub"]), email=str(claims["email"]),
                                  role=str(claims["role"]))
            issued_at, expires_at = int(claims["iat"]), int(claims["exp"])
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token has expired", code="token_expired") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized("Invalid token", code="invalid_token") from exc
        if principal.role not in ROLES:
            raise Unauthorized("Invalid token", code="invalid_token")
        return principal, issued_at, expires_at


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_user() -> Principal | None:
    """The verified caller, or None when the request carries no token (a bad token is a 401)."""
    if "user" not in g:
        token = bearer_token()
        g.user = current_app.extensions["token_verifier"].verify(token) if token else None
    return g.user


def require_auth(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            raise Unauthorized("Authentication required", headers={"WWW-Authenticate": "Bearer"})
        return view(*args, **kwargs)
    return wrapper


def require_role(role: str):
    def decorator(view):
        @functools.wraps(view)
        @require_auth
        def wrapper(*args, **kwargs):
            if current_user().role != role:
                raise Forbidden(f"Requires role {role}")
            return view(*args, **kwargs)
        return wrapper
    return decorator


def ensure_self_or_admin(user_id: int) -> Principal:
    """403 unless the caller is `user_id` or an admin."""
    user = current_user()
    if user is None:
        raise Unauthorized("Authentication required", headers={"WWW-Authenticate": "Bearer"})
    if not user.is_admin and user.id != user_id:
        raise Forbidden("You may only access your own resources")
    return user
