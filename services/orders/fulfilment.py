"""Moving an order along its status flow, one change at a time."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from services.kit.auth import Principal
from services.kit.db import db_session, utcnow
from services.kit.errors import Conflict, NotFound

from .models import TRANSITIONS, Order, OrderStatus, OrderStatusHistory, next_statuses
from .schemas import order_json


def visible_order(order_id: int, caller: Principal, *, lock: bool = False) -> Order:
    """The order if the caller may see it. Another customer's order is a 404, as if absent."""
    query = select(Order).where(Order.id == order_id)
    if lock:
        # Concurrent changes queue on the row (PostgreSQL); the version column catches the rest.
        query = query.with_for_update()
    order = db_session().scalars(query).first()
    if order is None or (order.customer_id != caller.id and not caller.is_admin):
        raise NotFound(f"Order {order_id} not found")
    return order


def change_status(order_id: int, target: OrderStatus, caller: Principal,
                  expected: OrderStatus | None = None) -> dict:
    """Admin status update: only the transitions of DESIGN.md."""
    return _move(order_id, target, caller, expected)


def cancel(order_id: int, caller: Principal, expected: OrderStatus | None = None) -> dict:
    """The owner may cancel while PENDING; an admin while PENDING or PROCESSING."""
    return _move(order_id, OrderStatus.CANCELLED, caller, expected)


def _move(order_id: int, target: OrderStatus, caller: Principal, expected: OrderStatus | None) -> dict:
    order = visible_order(order_id, caller, lock=True)
    current = OrderStatus(order.status)
    allowed = next_statuses(current, is_admin=caller.is_admin)
    # The lock only serialises: a change decided on what the caller saw must not apply over
    # another made meanwhile (PENDING -> PROCESSING, then a cancel meant for a PENDING order).
    if expected is not None and current != expected:
        raise Conflict(
            f"The order changed meanwhile: it is now {current.value}, not {expected.value}; "
            "reload it and decide again",
            code="status_changed",
            details={"currentStatus": current.value, "expectedStatus": expected.value,
                     "allowedNextStatuses": [s.value for s in allowed]},
        )
    if target not in allowed:
        message = None
        # A step the shop may still take: for an owner (who can only cancel), a PROCESSING order.
        if target in TRANSITIONS[current]:
            message = "This order is already being prepared; only the shop can cancel it now"
        raise _invalid_transition(current, target, allowed, message)
    return _apply(order, current, target, caller)


def _apply(order: Order, current: OrderStatus, target: OrderStatus, caller: Principal) -> dict:
    session = db_session()
    now = utcnow()
    order.status = target.value
    order.updated_at = now
    order.history.append(OrderStatusHistory(from_status=current.value, to_status=target.value,
                                            actor_id=caller.id, changed_at=now))
    try:
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise Conflict("The order was changed by someone else at the same time; reload and retry",
                       code="concurrent_update") from exc
    return order_json(order, caller)


def _invalid_transition(current: OrderStatus, target: OrderStatus, allowed, message: str | None = None):
    return Conflict(
        message or f"An order that is {current.value} cannot become {target.value}",
        code="invalid_transition",
        details={"currentStatus": current.value, "requestedStatus": target.value,
                 "allowedNextStatuses": [s.value for s in allowed]},
    )
