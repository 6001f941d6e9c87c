"""Storefront settings, read from the environment (and nowhere else)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from services.kit.config import LOCAL_SECRET, ServiceConfig


class StorefrontConfig(ServiceConfig):
    service_name: str = "storefront"
    # The gateway locally, the ALB URL on AWS: every API call goes through the public route table.
    api_base_url: str = "http://127.0.0.1:8080"
    # The catalog's own address (Cloud Map on AWS), for the reads behind nearly every page: straight
    # there rather than out through the public load balancer and back. Empty: via api_base_url.
    catalog_url: str = ""
    api_connect_timeout: float = Field(default=1.0, gt=0)
    api_read_timeout: float = Field(default=5.0, gt=0)
    api_retries: int = Field(default=1, ge=0, le=5)
    # Secure cookies when the site is served over HTTPS (the prod ALB terminates TLS).
    session_cookie_secure: bool = False
    session_lifetime_hours: int = Field(default=24, ge=1, le=24 * 30)
    # Number of proxies in front of the app whose X-Forwarded-* headers are trusted (ALB or gateway).
    trusted_proxies: int = Field(default=1, ge=0, le=5)
    # Shown on the cart before checkout (same variable as the orders service). Orders computes the
    # binding total and refuses one that differs (409 price_changed), so a stale figure cannot slip through;
    # its refusal quotes its own fee, which this process shows from then on (views/cart.py shipping_fee).
    shipping_fee_vnd: int = Field(default=30_000, ge=0, le=10_000_000)
    page_size: int = Field(default=12, ge=1, le=100)
    # How long a process reuses the category menu, the home page's newest cakes and product pages (0: never).
    public_read_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long past that the last copy still answers while the API is unavailable (a catalog
    # restart or deployment), instead of a 503 page; charging never reads it.
    public_read_stale_seconds: float = Field(default=300.0, ge=0, le=86_400)
    # Funnel source on AWS: the analytics bucket the daily export writes (empty: not configured).
    analytics_bucket: str = ""
    analytics_prefix: str = "user-actions"
    # How long a process reuses a day of the export that is not complete yet (complete days: for good).
    funnel_cache_seconds: int = Field(default=300, ge=0, le=86_400)

    @model_validator(mode="before")
    @classmethod
    def _verify_tokens_with_the_users_jwks(cls, data: Any) -> Any:
        # Without a configured key the storefront verifies sign-ins against the users service's
        # JWKS, reached through the same API URL as everything else.
        if isinstance(data, dict) and not any(
                data.get(key) for key in ("jwt_public_key", "jwt_public_key_file", "jwks_url")):
            base = str(data.get("api_base_url") or cls.model_fields["api_base_url"].default)
            data = {**data, "jwks_url": base.rstrip("/") + "/.well-known/jwks.json"}
        return data

    @model_validator(mode="after")
    def _refuse_local_defaults_when_deployed(self) -> StorefrontConfig:
        # Replaces the kit's check of the same name: the storefront has no database to require,
        # but its cookie-signing secret must never be the local default.
        if self.is_deployed and self.secret_key == LOCAL_SECRET:
            raise ValueError("SECRET_KEY must be set outside local development")
        return self
