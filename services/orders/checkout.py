"""Placing an order: server-side prices, shipping in the total, safe retries."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from services.kit.app import current_config
from services.kit.auth import Principal, bearer_token
from services.kit.db import PerDialect, db_session, utcnow
from services.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.kit.events import emit_event

from .catalog import Quote, catalog
from .customers import users
from .fulfilment import visible_order
from .models import IdempotencyKey, Order, OrderItem, OrderStatus, OrderStatusHistory
from .schemas import OrderIn, order_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placed:
    body: dict
    status: int
    replayed: bool


def request_fingerprint(payload: OrderIn) -> str:
    """sha256 of the body after validation, so key order and whitespace do not matter."""
    canonical = json.dumps(payload.model_dump(mode="json", by_alias=True, exclude_none=True),
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def place_order(payload: OrderIn, caller: Principal, key: str | None) -> Placed:
    config = current_config()
    customer_id = payload.user_id if payload.user_id is not None else caller.id
    if customer_id != caller.id and not caller.is_admin:
        raise Forbidden("You may only place orders for yourself")

    session = db_session()
    fingerprint = request_fingerprint(payload)
    if key is not None:
        earlier = _earlier_result(session, caller.id, key, fingerprint)
        if earlier:
            return earlier

    if customer_id != caller.id:
        users().ensure_customer(customer_id, bearer_token())
    quotes = catalog().quotes([(item.product_id, item.size) for item in payload.items])
    _refuse_unavailable(quotes)
    lines = [(item, quote) for item, quote in zip(payload.items, quotes, strict=True)]
    subtotal = sum(quote.price * item.quantity for item, quote in lines)
    shipping_fee = config.shipping_fee_vnd
    total = subtotal + shipping_fee
    _refuse_changed_prices(payload, lines, subtotal, shipping_fee, total)

    now = utcnow()
    order = Order(
        customer_id=customer_id, placed_by=caller.id, status=OrderStatus.PENDING.value,
        subtotal=subtotal, shipping_fee=shipping_fee, total_amount=total,
        shipping_address=payload.shipping_address, notes=payload.notes or None,
        placed_on=_local_day(now, config), created_at=now, updated_at=now, version=1,
        items=[OrderItem(product_id=item.product_id, product_name=quote.product_name,
                         category_id=quote.category_id, category=quote.category, size=item.size,
                         unit_price=quote.price, quantity=item.quantity,
                         line_total=quote.price * item.quantity)
               for item, quote in lines],
        history=[OrderStatusHistory(from_status=None, to_status=OrderStatus.PENDING.value,
                                    actor_id=caller.id, changed_at=now)],
    )
    order.id = _insert(session, order)
    body = order_json(order)
    if key is not None and not _claim_key(session, caller.id, key, fingerprint, order.id, body, now):
        # Another request with this key committed first: its order stands and ours is undone.
        session.rollback()
        earlier = _earlier_result(session, caller.id, key, fingerprint)
        if earlier is None:
            raise Conflict("A request with this Idempotency-Key is still in progress; retry",
                           code="idempotency_in_progress")
        return earlier
    session.commit()

    _after_commit(order)
    return Placed(body, 201, replayed=False)


def placed_with(key: str, caller: Principal) -> Order:
    """The order `caller` placed with Idempotency-Key `key`."""
    order_id = db_session().scalar(select(IdempotencyKey.order_id).where(
        IdempotencyKey.customer_id == caller.id, IdempotencyKey.key == key))
    if order_id is None:
        raise NotFound("No order was placed with this Idempotency-Key")
    return visible_order(order_id, caller)


def _insert(session: Session, order: Order) -> int:
    """The order, its lines and its first history entry as three INSERTs.

    Core statements rather than session.add(): the ORM's unit of work cost more CPU than the SQL
    on the busiest write path (README "Benchmarks").
    """
    order_id = session.execute(
        _INSERT_ORDER, {column: getattr(order, column) for column in _ORDER_COLUMNS}).scalar_one()
    session.execute(_INSERT_ITEM, [
        {"order_id": order_id, **{column: getattr(item, column) for column in _ITEM_COLUMNS}}
        for item in order.items])
    session.execute(_INSERT_HISTORY, [
        {"order_id": order_id, **{column: getattr(change, column) for column in _HISTORY_COLUMNS}}
        for change in order.history])
    return order_id


# The statements of the write path, built once (composing them per order cost measurable CPU).
_INSERT_ORDER = insert(Order.__table__).returning(Order.id)
_INSERT_ITEM = insert(OrderItem.__table__)
_INSERT_HISTORY = insert(OrderStatusHistory.__table__)
_EARLIER_RESULT = (
    select(IdempotencyKey.request_hash, IdempotencyKey.response_status, IdempotencyKey.response_body)
    .where(IdempotencyKey.customer_id == bindparam("customer_id"),
           IdempotencyKey.key == bindparam("key")))
_CLAIM_KEY = PerDialect(lambda dialect: dialect.insert(IdempotencyKey.__table__)
                        .on_conflict_do_nothing(index_elements=["customer_id", "key"])
                        .returning(IdempotencyKey.id))
_ORDER_COLUMNS = ("customer_id", "placed_by", "status", "subtotal", "shipping_fee", "total_amount",
                  "shipping_address", "notes", "placed_on", "created_at", "updated_at", "version")
_ITEM_COLUMNS = ("product_id", "product_name", "category_id", "category", "size", "unit_price",
                 "quantity", "line_total")
_HISTORY_COLUMNS = ("from_status", "to_status", "actor_id", "changed_at")


def _earlier_result(session: Session, caller_id: int, key: str, fingerprint: str) -> Placed | None:
    found = session.execute(_EARLIER_RESULT, {"customer_id": caller_id, "key": key}).first()
    if session.get_bind().dialect.name == "sqlite":
        # A read transaction held open would block our later write. PostgreSQL goes on in the same
        # transaction: one pool checkout (and pre-ping) per order instead of two.
        session.rollback()
    if found is None:
        return None
    request_hash, status, body = found
    if request_hash != fingerprint:
        raise Unprocessable("This Idempotency-Key was already used with a different request body",
                            code="idempotency_key_reused")
    return Placed(body, status, replayed=True)


def _claim_key(session: Session, caller_id: int, key: str, fingerprint: str, order_id: int,
               body: dict, now: datetime) -> bool:
    """Store the key with its answer in the order's transaction; False when it already exists.

    On PostgreSQL a concurrent insert of the same (customer, key) waits here until the first
    transaction ends, so exactly one request keeps its order and the others replay it.
    """
    return session.execute(_CLAIM_KEY.for_session(session), {
        "customer_id": caller_id, "key": key, "request_hash": fingerprint, "order_id": order_id,
        "response_status": 201, "response_body": body, "created_at": now,
    }).scalar_one_or_none() is not None


def _refuse_unavailable(quotes: list[Quote]) -> None:
    problems = [{"index": index, "productId": q.product_id, "size": q.size,
                 "reason": q.reason or "unavailable"}
                for index, q in enumerate(quotes) if not q.available]
    if problems:
        raise Unprocessable("Some items cannot be ordered", code="items_unavailable",
                            details=problems)


def _refuse_changed_prices(payload: OrderIn, lines, subtotal: int, shipping_fee: int,
                           total: int) -> None:
    price_differs = any(item.price is not None and item.price != quote.price for item, quote in lines)
    total_differs = payload.total_amount is not None and payload.total_amount != total
    if not (price_differs or total_differs):
        return
    raise Conflict(
        "Prices have changed since you saw them; review the current prices and confirm",
        code="price_changed",
        details={
            "items": [{"productId": item.product_id, "size": item.size, "quantity": item.quantity,
                       "price": quote.price, "submittedPrice": item.price,
                       "lineTotal": quote.price * item.quantity} for item, quote in lines],
            "subtotal": subtotal,
            "shippingFee": shipping_fee,
            "totalAmount": total,
            "submittedTotalAmount": payload.total_amount,
        },
    )


def _local_day(moment: datetime, config):
    return moment.astimezone(config.zone).date()


def _after_commit(order: Order) -> None:
    """The order stands from here on: nothing below may fail it."""
    try:
        # Stamped with the order's own moment, so the export files it under the shop day the admin
        # charts do (placed_on), even when the commit ends after local midnight.
        emit_event("Order Completed", {
            "orderId": order.id,
            "products": [{"productId": item.product_id, "name": item.product_name, "size": item.size,
                          "quantity": item.quantity, "unitPrice": item.unit_price,
                          "categoryId": item.category_id, "category": item.category}
                         for item in order.items],
            "subtotal": order.subtotal,
            "shippingFee": order.shipping_fee,
            "totalAmount": order.total_amount,
        }, user_id=order.customer_id, now=order.created_at)
    except Exception:  # an event sink failing must not turn a placed order into a 500
        log.exception("could not emit Order Completed", extra={"fields": {"orderId": order.id}})
    catalog().take_ordered(order.id, order.customer_id, bearer_token(), order.created_at,
                           [(item.product_id, item.size, item.quantity) for item in order.items])
