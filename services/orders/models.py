"""Orders, their items, their status history and the idempotency keys of order placement."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.kit.db import utcnow


class Base(DeclarativeBase):
    pass


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


# DESIGN.md "Order status": the only transitions there are; anything else is a 409.
TRANSITIONS: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    OrderStatus.PENDING: (OrderStatus.PROCESSING, OrderStatus.CANCELLED),
    OrderStatus.PROCESSING: (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
    OrderStatus.SHIPPED: (OrderStatus.DELIVERED,),
    OrderStatus.DELIVERED: (),
    OrderStatus.CANCELLED: (),
}
# The owner may only cancel, and only while nothing has been baked; an admin follows TRANSITIONS.
OWNER_CANCELLABLE = frozenset({OrderStatus.PENDING})


def next_statuses(status: OrderStatus, *, is_admin: bool) -> tuple[OrderStatus, ...]:
    """The statuses this caller may move an order in `status` to: what the API lists as
    `nextStatuses` and, with a 409, as `allowedNextStatuses`."""
    if is_admin:
        return TRANSITIONS[status]
    return (OrderStatus.CANCELLED,) if status in OWNER_CANCELLABLE else ()

_STATUS_VALUES = ", ".join(f"'{s.value}'" for s in OrderStatus)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="ck_orders_status"),
        CheckConstraint("total_amount = subtotal + shipping_fee", name="ck_orders_total"),
        Index("ix_orders_customer_created", "customer_id", "created_at"),
        Index("ix_orders_placed_on_status", "placed_on", "status"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)
    placed_by: Mapped[int] = mapped_column(Integer)  # the caller: the customer or an admin
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PENDING.value)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    shipping_fee: Mapped[int] = mapped_column(BigInteger)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_address: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(String(1000))
    # The shop-local calendar day the order was placed: what filters and daily charts group by.
    placed_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Optimistic lock: a status change that lost a race fails instead of overwriting the winner.
    version: Mapped[int] = mapped_column(Integer, default=1)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id")
    history: Mapped[list[OrderStatusHistory]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderStatusHistory.id")

    __mapper_args__ = {"version_id_col": version}


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 99", name="ck_order_items_quantity"),
        CheckConstraint("line_total = unit_price * quantity", name="ck_order_items_line_total"),
        Index("ix_order_items_product_line", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    # Captured at purchase: later catalog edits never rewrite what a customer bought.
    product_name: Mapped[str] = mapped_column(String(200))
    # The category's id keeps its revenue together through a rename; lines placed before the
    # catalog reported it have none and are matched by name (reports.py).
    category_id: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[str] = mapped_column(String(20))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(BigInteger)

    order: Mapped[Order] = relationship(back_populates="items")


class OrderStatusHistory(Base):
    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))  # None for the order's creation
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="history")


class IdempotencyKey(Base):
    """One `Idempotency-Key` of one caller, written in the same transaction as its order."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("customer_id", "key", name="uq_idempotency_keys_customer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)  # the caller the key belongs to
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical request body
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

