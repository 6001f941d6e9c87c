"""The users service: customer accounts, login, and the only holder of the token-signing key."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.kit.app import create_service_app
from services.kit.auth import TokenVerifier

from .cli import register_commands
from .config import UsersConfig
from .keys import signing_key_from_config
from .ratelimit import init_limits
from .routes import auth_bp, customers_bp, keys_bp, spec
from .tokens import TokenIssuer


def create_app(config: UsersConfig | None = None) -> Flask:
    config = config or UsersConfig()
    signing_key = signing_key_from_config(config)
    app = create_service_app(__name__, config, blueprints=[auth_bp, customers_bp, keys_bp], spec=spec,
                             service_dir=Path(__file__).parent)
    app.extensions["signing_key"] = signing_key
    app.extensions["token_issuer"] = TokenIssuer(signing_key, config)
    # Our own tokens are checked with our own public key, whatever JWT_PUBLIC_KEY* say.
    app.extensions["token_verifier"] = TokenVerifier(config.model_copy(update={
        "jwt_public_key": signing_key.public_pem, "jwt_public_key_file": "", "jwks_url": ""}))
    init_limits(app, config)
    register_commands(app)
    return app
