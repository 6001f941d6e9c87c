"""The orders service's view of the users service: does the customer an admin orders for exist?"""

from __future__ import annotations

import logging

from flask import current_app

from services.kit.errors import Forbidden, ServiceUnavailable, Unprocessable
from services.kit.http import ServiceClient, UpstreamUnavailable

from .config import OrdersConfig

log = logging.getLogger(__name__)


class UsersClient:
    def __init__(self, config: OrdersConfig):
        self.http = ServiceClient(
            config.users_url, name="users", connect_timeout=config.users_connect_timeout,
            read_timeout=config.users_read_timeout, retries=config.users_retries, backoff=0.1)

    def ensure_customer(self, customer_id: int, token: str | None) -> None:
        """422 `unknown_customer` when users has no such account, asked with the admin's own token;
        503 when users cannot say. An order never stands for someone who does not exist."""
        try:
            response = self.http.get(f"/api/customers/{customer_id}", token=token)
        except UpstreamUnavailable as exc:
            log.warning("customer lookup failed: unavailable", extra={"fields": {
                "errorClass": exc.error_class}})
            raise
        body = _body(response)
        if response.status_code == 200 and body.get("id") == customer_id:
            return
        error = body.get("error")
        if response.status_code == 404 and isinstance(error, dict) and error.get("code") == "not_found":
            raise Unprocessable("No customer has this userId", code="unknown_customer",
                                details=[{"field": "userId", "message": "No customer has this id",
                                          "type": "unknown_customer"}])
        if response.status_code in (401, 403):  # the token lost its rights between the two checks
            raise Forbidden("You may only place orders for yourself")
        log.warning("customer lookup failed", extra={"fields": {"upstreamStatus": response.status_code}})
        raise ServiceUnavailable("The users service cannot confirm this customer right now; try again "
                                 "shortly", code="upstream_unavailable", headers={"Retry-After": "2"})


def _body(response) -> dict:
    """The answer's JSON object, or {} for anything else (another server's page behind a wrong URL)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def users() -> UsersClient:
    return current_app.extensions["users"]
