"""Login throttling (Flask-Limiter): failed attempts per e-mail, every attempt per client address.

The client address is the rightmost X-Forwarded-For address outside TRUSTED_PROXY_NETWORKS
(`services.kit.proxies.client_address`). A shopper's login passes browser -> ALB -> storefront ->
ALB -> users; every hop after the browser is ours (on AWS that includes the NAT gateway the
storefront's calls leave through, so its address must be configured too), so each shopper gets their
own bucket, while a direct caller's forged prefix lies left of the address the ALB wrote.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded

from services.kit.errors import error_response
from services.kit.proxies import client_address as forwarded_client_address

from .config import UsersConfig
from .models import EMAIL_MAX
from .schemas import normalise_email

log = logging.getLogger(__name__)


def client_address() -> str:
    networks = current_app.extensions["config"].trusted_proxy_networks
    return forwarded_client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                    networks) or "unknown"


def login_email() -> str:
    """The e-mail a login attempt is for, as the limiter's key ("" when there is none)."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        return ""
    try:
        return normalise_email(email)  # the same form the account is looked up by
    except ValueError:
        return email.strip().lower()[:EMAIL_MAX]


def init_login_limits(app: Flask, config: UsersConfig, endpoint: str) -> Limiter:
    """One limiter per app (so apps never share counters) wrapped around the login view."""
    limiter = Limiter(client_address, app=app, storage_uri=config.ratelimit_storage_uri,
                      strategy="moving-window", key_prefix=config.service_name,
                      headers_enabled=False)
    view = app.view_functions[endpoint]
    # Checked before the request is validated, so malformed attempts are throttled too.
    view = limiter.limit(config.login_limit_per_email, key_func=lambda: "email:" + login_email(),
                         exempt_when=lambda: not login_email(),
                         deduct_when=lambda response: response.status_code == 401)(view)
    view = limiter.limit(config.login_limit_per_address,
                         key_func=lambda: "address:" + client_address())(view)
    app.view_functions[endpoint] = view

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded):
        breached = limiter.current_limit
        retry_after = max(1, math.ceil(breached.window[0] - time.time())) if breached else 60
        log.warning("login rate limit reached", extra={"fields": {"limit": str(exc.limit.limit)}})
        return error_response(429, "rate_limited",
                              f"Too many login attempts; try again in {retry_after} seconds",
                              {"retryAfter": retry_after}, headers={"Retry-After": str(retry_after)})

    return limiter
