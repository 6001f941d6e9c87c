"""The orders service's view of the catalog: batch price lookup, and taking an order out of the cart."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, has_request_context
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from services.kit.errors import ServiceUnavailable
from services.kit.http import ServiceClient, UpstreamUnavailable
from services.kit.logs import REQUEST_ID_HEADER

from .config import OrdersConfig

log = logging.getLogger(__name__)

PRICES_PATH = "/api/products/prices"
# Seconds between tries to clear a cart the catalog could not clear at once: past a restart or a
# deployment's switch-over, and well within the shopper's token lifetime.
CLEAR_RETRY_DELAYS_S = (2.0, 8.0, 30.0)


class _PriceLine(BaseModel):
    # Tolerate fields the catalog may add later; insist on the ones the contract fixes.
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    product_id: int
    size: str
    available: bool
    reason: str | None = None
    product_name: str | None = None
    category_id: int | None = None  # a catalog from before categoryId leaves it out
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
    category_id: int | None
    category: str | None
    price: int | None


class CatalogClient:
    def __init__(self, config: OrdersConfig):
        self.http = ServiceClient(
            config.catalog_url, name="catalog", connect_timeout=config.catalog_connect_timeout,
            read_timeout=config.catalog_read_timeout, retries=config.catalog_retries, backoff=0.1)

    def quotes(self, lines: list[tuple[int, str]]) -> list[Quote]:
        """Current prices for (productId, size) lines, in order. 503 if the catalog cannot say."""
        started = time.perf_counter()
        try:
            response = self.http.post(
                PRICES_PATH, json={"items": [{"productId": pid, "size": size} for pid, size in lines]},
                idempotent=True)  # a read-only lookup: safe to repeat
        except UpstreamUnavailable as exc:
            log.warning("catalog price lookup failed: unavailable", extra={"fields": {
                "errorClass": exc.error_class, "elapsedMs": _elapsed_ms(started)}})
            raise
        if response.status_code != 200:
            log.warning("catalog price lookup failed", extra={"fields": {
                "upstreamStatus": response.status_code, "elapsedMs": _elapsed_ms(started)}})
            raise _unavailable()
        try:
            answer = _PriceAnswer.model_validate(response.json())
        except (ValueError, ValidationError) as exc:  # ValueError: the body is not JSON
            log.error("catalog price lookup answered in an unexpected shape")
            raise _unavailable() from exc
        quotes = [Quote(line.product_id, line.size, line.available, line.reason, line.product_name,
                        line.category_id, line.category, line.price) for line in answer.items]
        if [(q.product_id, q.size) for q in quotes] != lines or any(
                q.available and (q.price is None or q.price < 0 or not q.product_name) for q in quotes):
            log.error("catalog price lookup answered lines that do not match the request")
            raise _unavailable()
        return quotes

    def take_ordered(self, order_id: int, user_id: int, token: str | None, ordered_at: datetime,
                     lines: list[tuple[int, str, int]]) -> bool:
        """After the order is committed, take what it bought out of the customer's cart.

        Never raises. When the catalog cannot answer, the call is tried again in the background
        (CLEAR_RETRY_DELAYS_S): a catalog that was restarting does not leave the ordered cakes in
        the cart. Lines the order did not buy stay, and so do lines changed after `ordered_at`. A
        refusal (4xx) is not retried.
        """
        report = {"orderedAt": ordered_at.isoformat(),
                  "items": [{"productId": pid, "size": size, "quantity": quantity}
                            for pid, size, quantity in lines]}
        # The retries run without the request: its id is kept for their log lines and calls.
        request_id = g.get("request_id") if has_request_context() else None
        return self._take_ordered(order_id, request_id, user_id, token, report, CLEAR_RETRY_DELAYS_S)

    def _take_ordered(self, order_id: int, request_id: str | None, user_id: int, token: str | None,
                      report: dict, retry_delays: tuple[float, ...]) -> bool:
        fields = {"requestId": request_id, "orderId": order_id, "userId": user_id,
                  "retriesLeft": len(retry_delays)}
        try:
            # Safe to repeat: the catalog marks what it took, so a second call takes nothing.
            response = self.http.post(f"/api/cart/user/{user_id}/ordered", token=token, json=report,
                                      idempotent=True,
                                      headers={REQUEST_ID_HEADER: request_id} if request_id else None)
        except ServiceUnavailable:
            log.warning("could not clear the cart: catalog unavailable", extra={"fields": fields})
        else:
            if response.ok:
                return True
            log.warning("could not clear the cart", extra={"fields": {
                **fields, "upstreamStatus": response.status_code}})
            if response.status_code < 500:
                return False
        if retry_delays:
            retry = threading.Timer(retry_delays[0], self._take_ordered,
                                    (order_id, request_id, user_id, token, report, retry_delays[1:]))
            retry.daemon = True  # a stopping worker does not wait for it
            retry.start()
        else:
            log.error("gave up clearing the cart after an order", extra={"fields": fields})
        return False


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The catalog cannot price this order right now; try again shortly",
                              code="upstream_unavailable", headers={"Retry-After": "2"})


def catalog() -> CatalogClient:
    return current_app.extensions["catalog"]
