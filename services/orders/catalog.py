"""The orders service's view of the catalog: batch price lookup and clearing a cart."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from services.kit.errors import ServiceUnavailable
from services.kit.http import ServiceClient

from .config import OrdersConfig

log = logging.getLogger(__name__)

PRICES_PATH = "/api/products/prices"


class _PriceLine(BaseModel):
    # Tolerate fields the catalog may add later; insist on the ones the contract fixes.
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    product_id: int
    size: str
    available: bool
    reason: str | None = None
    product_name: str | None = None
    category: str | None = None
    price: int | None = None


class _PriceAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[_PriceLine]


@dataclass(frozen=True)
class Quote:
    product_id: int
    size: str
    available: bool
    reason: str | None
    product_name: str | None
    category: str | None
    price: int | None


class CatalogClient:
    def __init__(self, config: OrdersConfig):
        self.http = ServiceClient(
            config.catalog_url, name="catalog", connect_timeout=config.catalog_connect_timeout,
            read_timeout=config.catalog_read_timeout, retries=config.catalog_retries, backoff=0.1)

    def quotes(self, lines: list[tuple[int, str]]) -> list[Quote]:
        """Current prices for (productId, size) lines, in order. 503 if the catalog cannot say."""
        response = self.http.post(
            PRICES_PATH, json={"items": [{"productId": pid, "size": size} for pid, size in lines]},
            idempotent=True)  # a read-only lookup: safe to repeat
        if response.status_code != 200:
            log.warning("catalog price lookup failed", extra={"fields": {
                "upstreamStatus": response.status_code}})
            raise _unavailable()
        try:
            answer = _PriceAnswer.model_validate(response.json())
        except (ValueError, ValidationError) as exc:  # ValueError: the body is not JSON
            log.error("catalog price lookup answered in an unexpected shape")
            raise _unavailable() from exc
        quotes = [Quote(line.product_id, line.size, line.available, line.reason, line.product_name,
                        line.category, line.price) for line in answer.items]
        if [(q.product_id, q.size) for q in quotes] != lines or any(
                q.available and (q.price is None or q.price < 0 or not q.product_name) for q in quotes):
            log.error("catalog price lookup answered lines that do not match the request")
            raise _unavailable()
        return quotes

    def clear_cart(self, user_id: int, token: str | None) -> bool:
        """Best effort, after the order is committed: a failure is logged and never raised."""
        try:
            response = self.http.delete(f"/api/cart/user/{user_id}", token=token)
        except ServiceUnavailable:
            log.warning("could not clear the cart: catalog unavailable",
                        extra={"fields": {"userId": user_id}})
            return False
        if not response.ok:
            log.warning("could not clear the cart", extra={"fields": {
                "userId": user_id, "upstreamStatus": response.status_code}})
            return False
        return True


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The catalog cannot price this order right now; try again shortly",
                              code="upstream_unavailable", headers={"Retry-After": "2"})


def catalog() -> CatalogClient:
    return current_app.extensions["catalog"]
