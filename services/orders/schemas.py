"""Request and response bodies (camelCase JSON), and how an order is rendered."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from services.kit.api import LAST_DAY, ORDER_LINES_MAX, CamelModel, Day, Id
from services.kit.auth import Principal, current_user
from services.kit.db import MAX_ID, as_utc
from services.kit.text import MULTI_LINE, SINGLE_LINE, canonical_name

from .models import Order, OrderStatus, next_statuses

MONEY_MAX = 10**12  # VND; far above any real basket, far below BIGINT

# Strict: JSON `true` or "3" is not a quantity, and 1.5 is not a price.
Money = Annotated[int, Field(strict=True, ge=0, le=MONEY_MAX)]


class OrderItemIn(CamelModel):
    product_id: Id
    size: Annotated[str, Field(min_length=1, max_length=20, pattern=SINGLE_LINE),
                    BeforeValidator(canonical_name)]  # as the catalog stores its labels
    quantity: int = Field(strict=True, ge=1, le=99)
    price: Money | None = Field(default=None, description="Unit price the shopper saw; checked, never used")


class OrderIn(CamelModel):
    items: list[OrderItemIn] = Field(min_length=1, max_length=ORDER_LINES_MAX)
    shipping_address: str = Field(min_length=1, max_length=500, pattern=MULTI_LINE)
    notes: str | None = Field(default=None, max_length=1000, pattern=MULTI_LINE)
    user_id: Id | None = Field(default=None, description="The customer; only admins may name another")
    total_amount: Money | None = Field(default=None, description="Total the shopper saw; checked")

    @model_validator(mode="after")
    def _one_line_per_product_size(self) -> OrderIn:
        seen: set[tuple[int, str]] = set()
        for item in self.items:
            line = (item.product_id, item.size)
            if line in seen:
                raise ValueError(f"product {item.product_id} size {item.size!r} appears twice; "
                                 "send one line with the total quantity")
            seen.add(line)
        return self


IDEMPOTENCY_KEY = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"  # printable ASCII, not blank


class OrderHeaders(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)  # every other header passes

    idempotency_key: str | None = Field(
        default=None, alias="Idempotency-Key", min_length=1, max_length=255, pattern=IDEMPOTENCY_KEY,
        description="Retry-safe placement: the same key and body return the same order")


class KeyQuery(CamelModel):
    idempotency_key: str = Field(min_length=1, max_length=255, pattern=IDEMPOTENCY_KEY,
                                 description="An Idempotency-Key the caller sent with POST /api/orders")


EXPECTED_STATUS = ("The status the caller's page showed. When the order's status is another (it changed "
                   "meanwhile), nothing is changed: 409 status_changed. Omit it to skip the check")


class CancelIn(CamelModel):
    expected_status: OrderStatus | None = Field(default=None, description=EXPECTED_STATUS)


class StatusIn(CamelModel):
    status: OrderStatus
    expected_status: OrderStatus | None = Field(default=None, description=EXPECTED_STATUS)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_MICROS = (datetime.combine(LAST_DAY, datetime.min.time(), UTC) - _EPOCH) // timedelta(microseconds=1)


def cursor_of(order: Order) -> str:
    """Where an order stands in a newest-first list: its creation instant (µs) and id."""
    return f"{(as_utc(order.created_at) - _EPOCH) // timedelta(microseconds=1)}-{order.id}"


def cursor_position(cursor: str) -> tuple[datetime, int]:
    """(createdAt, id) of a cursor from cursor_of; ValueError when no order could stand there."""
    micros, order_id = (int(part) for part in cursor.split("-"))
    if micros > _LAST_MICROS or not 1 <= order_id <= MAX_ID:  # past it, the datetime would overflow
        raise ValueError("not a position in this list")
    return _EPOCH + timedelta(microseconds=micros), order_id


def _valid_cursor(cursor: str) -> str:
    cursor_position(cursor)
    return cursor


Cursor = Annotated[str, Field(pattern=r"^[0-9]{1,18}-[0-9]{1,19}$"), AfterValidator(_valid_cursor)]
CURSOR_HELP = ("A `nextCursor`/`prevCursor` from an earlier page. Pages read by cursor neither skip nor "
               "repeat orders while orders arrive or change status, as numbered pages would")


class PageQuery(CamelModel):
    page: int = Field(default=1, ge=1, le=100_000, description="Numbered pages; not with a cursor")
    page_size: int = Field(default=20, ge=1, le=100)
    after: Cursor | None = Field(default=None, description=f"The page of older orders. {CURSOR_HELP}")
    before: Cursor | None = Field(default=None, description=f"The page of newer orders. {CURSOR_HELP}")

    @model_validator(mode="after")
    def _one_way_to_a_page(self) -> PageQuery:
        if self.after is not None and self.before is not None:
            raise ValueError("send 'after' or 'before', not both")
        if (self.after is not None or self.before is not None) and "page" in self.model_fields_set:
            raise ValueError("send 'page' or a cursor, not both")
        return self


class DayRangeQuery(CamelModel):
    """`from` may not follow `to`. Subclasses declare `date_from`/`date_to` (shop-local days), each
    with its own description."""

    @model_validator(mode="after")
    def _ordered_range(self) -> DayRangeQuery:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("'from' must not be after 'to'")
        return self


def _blank_means_any(schema: dict) -> None:
    schema["anyOf"].append({"type": "string", "maxLength": 0})  # documented, so clients may rely on it


class AdminOrdersQuery(PageQuery, DayRangeQuery):
    status: OrderStatus | None = Field(default=None, json_schema_extra=_blank_means_any)
    date_from: Day | None = Field(default=None, alias="from", description="First shop-local day",
                                  json_schema_extra=_blank_means_any)
    date_to: Day | None = Field(default=None, alias="to", description="Last shop-local day",
                                json_schema_extra=_blank_means_any)

    @field_validator("status", "date_from", "date_to", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        return None if value == "" else value  # what an HTML filter form sends for "any"


class SummaryQuery(DayRangeQuery):
    date_from: Day | None = Field(default=None, alias="from", description="Default: 29 days before 'to'")
    date_to: Day | None = Field(default=None, alias="to", description="Default: today (shop-local)")
    limit: int = Field(default=10, ge=1, le=50, description="Best sellers per list")


class OrderItemOut(CamelModel):
    product_id: int
    product_name: str
    category: str | None
    size: str
    unit_price: int
    quantity: int
    line_total: int


class StatusChangeOut(CamelModel):
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor_id: int
    changed_at: datetime


class OrderOut(CamelModel):
    id: int
    user_id: int
    placed_by: int
    status: OrderStatus
    next_statuses: list[OrderStatus] = Field(description=(
        "The statuses the caller may move the order to now: an admin, the next steps of the status "
        "flow; the owner, CANCELLED while the order is PENDING, else none"))
    items: list[OrderItemOut]
    subtotal: int
    shipping_fee: int
    total_amount: int
    shipping_address: str
    notes: str | None
    placed_on: date
    created_at: datetime
    updated_at: datetime
    status_history: list[StatusChangeOut]


class OrderPage(CamelModel):
    orders: list[OrderOut]
    page: int = Field(description="The numbered page this one starts on")
    page_size: int
    total: int
    offset: int = Field(description="How many orders of the list come before this page")
    next_cursor: str | None = Field(description="`after` for the next (older) page; null on the last")
    prev_cursor: str | None = Field(description="`before` for the previous (newer) page; null on the first")


class DashboardTotals(CamelModel):
    order_count: int = Field(description="Orders that are not cancelled")
    revenue: int = Field(description="Sum of totalAmount (shipping included) of orders not cancelled")
    cancelled_count: int
    by_status: dict[OrderStatus, int]


class AdminOrderPage(OrderPage):
    summary: DashboardTotals


class DaySales(CamelModel):
    date: date
    orders: int
    revenue: int


class ProductSales(CamelModel):
    product_id: int
    product_name: str
    quantity: int
    revenue: int


class CategorySales(CamelModel):
    category: str | None
    quantity: int
    revenue: int


class SalesSummary(CamelModel):
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    timezone: str
    totals: DashboardTotals
    days: list[DaySales]
    best_sellers_by_quantity: list[ProductSales]
    best_sellers_by_revenue: list[ProductSales]
    revenue_by_category: list[CategorySales]


def iso(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_json(order: Order, viewer: Principal | None = None) -> dict:
    """The order as `viewer` (by default the request's caller) sees it: `nextStatuses` are theirs."""
    status = OrderStatus(order.status)
    viewer = viewer or current_user()
    return {
        "id": order.id,
        "userId": order.customer_id,
        "placedBy": order.placed_by,
        "status": status.value,
        "nextStatuses": [s.value for s in next_statuses(status, is_admin=viewer.is_admin)],
        "items": [{
            "productId": item.product_id,
            "productName": item.product_name,
            "category": item.category,
            "size": item.size,
            "unitPrice": item.unit_price,
            "quantity": item.quantity,
            "lineTotal": item.line_total,
        } for item in order.items],
        "subtotal": order.subtotal,
        "shippingFee": order.shipping_fee,
        "totalAmount": order.total_amount,
        "shippingAddress": order.shipping_address,
        "notes": order.notes,
        "placedOn": order.placed_on.isoformat(),
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
        "statusHistory": [{
            "fromStatus": change.from_status,
            "toStatus": change.to_status,
            "actorId": change.actor_id,
            "changedAt": iso(change.changed_at),
        } for change in order.history],
    }
