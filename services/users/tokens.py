"""Issuing the ES256 access tokens every service verifies (DESIGN.md "Tokens")."""

from __future__ import annotations

import json
import time

from jwt.utils import base64url_encode

from services.kit.auth import ALGORITHM

from .config import UsersConfig
from .keys import SigningKey
from .models import Customer, Role


def _segment(data: dict) -> bytes:
    return base64url_encode(json.dumps(data, separators=(",", ":")).encode())


class TokenIssuer:
    """Builds the JWS by hand so the signature can come from any SigningKey, including KMS."""

    def __init__(self, key: SigningKey, config: UsersConfig):
        self.key = key
        self.issuer = config.jwt_issuer
        self.audience = config.jwt_audience
        self.ttl_seconds = config.token_ttl_seconds
        self.admin_ttl_seconds = min(config.admin_token_ttl_seconds, config.token_ttl_seconds)

    def ttl_for(self, customer: Customer) -> int:
        """Admins get short tokens: a role lives in the token, so demotion waits for its expiry."""
        return self.admin_ttl_seconds if customer.role == Role.ADMIN else self.ttl_seconds

    def issue(self, customer: Customer, *, now: int | None = None) -> str:
        issued_at = int(time.time()) if now is None else now
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self.key.kid}
        claims = {"sub": str(customer.id), "email": customer.email, "role": customer.role,
                  "iss": self.issuer, "aud": self.audience, "iat": issued_at,
                  "exp": issued_at + self.ttl_for(customer)}
        signing_input = _segment(header) + b"." + _segment(claims)
        return (signing_input + b"." + base64url_encode(self.key.sign(signing_input))).decode()
