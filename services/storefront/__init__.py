"""The storefront (port 3000, the ALB's default route): server-rendered shop and admin pages.

It owns no tables. Everything it shows comes from the JSON APIs through API_BASE_URL (the gateway
locally, the ALB on AWS), called with the signed-in shopper's token from the session cookie.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import cache, lru_cache
from pathlib import Path

from flask import Flask, request, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from services.kit.app import create_service_app

from .api import Api
from .config import StorefrontConfig
from .errors import install_error_pages
from .formatting import install_filters
from .funnel import funnel_source
from .security import install_security_headers
from .session import SplitCookieSessionInterface, current_shopper, display_name, ensure_session_id
from .views import account, admin, cart, orders, shop

STATIC_DIR = Path(__file__).parent / "static"
csrf = CSRFProtect()


@cache
def _fingerprint(filename: str) -> str:
    return hashlib.sha256((STATIC_DIR / filename).read_bytes()).hexdigest()[:12]


def page_url(endpoint: str, **values) -> str:
    """url_for for templates, remembered: a page builds 14 to 23 links, and each depends only on
    the endpoint, its values and the mount point (README "Benchmarks")."""
    if endpoint.startswith(".") or any(name.startswith("_") for name in values):
        return url_for(endpoint, **values)  # relative to the blueprint, or external: build as usual
    try:
        return _built_url(request.script_root, endpoint, tuple(values.items()))
    except TypeError:  # a value that cannot be a cache key (a list)
        return url_for(endpoint, **values)


@lru_cache(maxsize=4096)
def _built_url(_script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def asset(filename: str) -> str:
    """A static file's URL with a content hash, so it can be cached for a year."""
    return page_url("static", filename=filename, v=_fingerprint(filename))


def product_image(product: dict) -> str:
    """The catalog's own image for a product (same origin), else our generic cake drawing."""
    image = product.get("imageUrl") or ""
    if image.startswith("/") and not image.startswith("//"):
        return image
    return asset("cake.svg")


def create_app(config: StorefrontConfig | None = None) -> Flask:
    config = config or StorefrontConfig()
    app = create_service_app(
        __name__, config, json_api=False,
        blueprints=[shop.bp, account.bp, cart.bp, orders.bp, admin.bp],
    )
    app.config.update(
        SESSION_COOKIE_NAME="sweetdream_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_lifetime_hours),
        PREFERRED_URL_SCHEME="https" if config.session_cookie_secure else "http",
        # The CSRF token lives as long as the session it belongs to.
        WTF_CSRF_TIME_LIMIT=config.session_lifetime_hours * 3600,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(days=365),
    )
    # Each cookie is sent only when its content changed: see SplitCookieSessionInterface.
    app.session_interface = SplitCookieSessionInterface()
    if config.trusted_proxies:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    csrf.init_app(app)
    app.extensions["storefront_api"] = Api(config)
    app.extensions["funnel_source"] = funnel_source(config.event_log_file, config.analytics_bucket,
                                                    config.analytics_prefix, config.funnel_cache_seconds)

    install_error_pages(app)
    install_security_headers(app, hsts=config.session_cookie_secure)
    install_filters(app)

    @app.before_request
    def _visitor_session():
        if request.endpoint not in ("static", "health.health"):
            ensure_session_id()

    # Globals (not a context processor) so that imported macros see them too.
    app.jinja_env.globals.update(url_for=page_url, asset=asset, product_image=product_image,
                                 display_name=display_name, shipping_fee=cart.shipping_fee)

    @app.context_processor
    def _shopper():
        return {"shopper": current_shopper()}

    return app
