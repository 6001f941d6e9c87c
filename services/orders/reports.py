"""Order lists for customers and admins, dashboard totals and the sales summary for charts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, or_, select, tuple_
from sqlalchemy.orm import aliased, selectinload

from services.kit.app import current_config
from services.kit.db import db_session
from services.kit.errors import Unprocessable

from .models import Order, OrderItem, OrderStatus
from .schemas import AdminOrdersQuery, PageQuery, SummaryQuery, cursor_of, cursor_position, order_json

MAX_SUMMARY_DAYS = 366
NOT_CANCELLED = Order.status != OrderStatus.CANCELLED.value


def customer_orders(customer_id: int, query: PageQuery) -> dict:
    listing = select(Order).where(Order.customer_id == customer_id)
    return _page(listing, query, total=_count(listing))


def admin_orders(query: AdminOrdersQuery) -> dict:
    in_range = _day_range(query.date_from, query.date_to)
    listing = select(Order).where(*in_range)
    if query.status is not None:
        listing = listing.where(Order.status == query.status.value)
    # Totals cover the date range whatever the status filter, so every status tab shows its count;
    # they count the listing too, which spares a count(*) over it.
    summary = dashboard_totals(in_range)
    by_status = summary["byStatus"]
    total = by_status[query.status.value] if query.status is not None else sum(by_status.values())
    return _page(listing, query, total=total) | {"summary": summary}


def dashboard_totals(conditions) -> dict:
    rows = db_session().execute(
        select(Order.status, func.count(), func.coalesce(func.sum(Order.total_amount), 0))
        .where(*conditions).group_by(Order.status)).all()
    by_status = {status.value: 0 for status in OrderStatus}
    revenue = 0
    for status, count, amount in rows:
        by_status[status] = count
        if status != OrderStatus.CANCELLED.value:
            revenue += int(amount)
    cancelled = by_status[OrderStatus.CANCELLED.value]
    return {"orderCount": sum(by_status.values()) - cancelled, "revenue": revenue,
            "cancelledCount": cancelled, "byStatus": by_status}


def sales_summary(query: SummaryQuery) -> dict:
    """Per-day orders and revenue, best sellers and revenue by category; cancelled orders excluded."""
    last = query.date_to or datetime.now(current_config().zone).date()
    first = query.date_from or last - timedelta(days=29)
    if first > last:
        raise Unprocessable("'from' must not be after 'to'",
                            details=[{"field": "from", "message": "after 'to'", "type": "value_error"}])
    if (last - first).days + 1 > MAX_SUMMARY_DAYS:
        raise Unprocessable(f"The summary covers at most {MAX_SUMMARY_DAYS} days",
                            details=[{"field": "from", "message": "range too long", "type": "value_error"}])
    session = db_session()
    in_range = _day_range(first, last)

    per_day = dict((day, (count, int(amount))) for day, count, amount in session.execute(
        select(Order.placed_on, func.count(), func.sum(Order.total_amount))
        .where(*in_range, NOT_CANCELLED).group_by(Order.placed_on)).all())
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        count, amount = per_day.get(day, (0, 0))
        days.append({"date": day.isoformat(), "orders": count, "revenue": amount})

    best_by_quantity, best_by_revenue = _best_sellers(session, in_range, query.limit)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": current_config().business_timezone,
        "totals": dashboard_totals(in_range),
        "days": days,
        "bestSellersByQuantity": best_by_quantity,
        "bestSellersByRevenue": best_by_revenue,
        "revenueByCategory": _revenue_by_category(session, in_range),
    }


def _best_sellers(session, in_range: list, limit: int) -> tuple[list[dict], list[dict]]:
    """The `limit` best sellers by quantity and by revenue, ties to the lower product id, from one
    aggregate ranked both ways. Each product is named as its newest order line, so a product renamed
    in the catalog is one best seller, shown as it was last sold."""
    sold = (select(OrderItem.product_id, func.sum(OrderItem.quantity).label("quantity"),
                   func.sum(OrderItem.line_total).label("revenue"))
            .join(Order).where(*in_range, NOT_CANCELLED).group_by(OrderItem.product_id).cte("sold"))
    ranked = select(
        sold, *(func.row_number().over(order_by=(measure.desc(), sold.c.product_id)).label(f"by_{name}")
                for name, measure in (("quantity", sold.c.quantity), ("revenue", sold.c.revenue)))
    ).subquery("ranked")
    line, newest_line = aliased(OrderItem), aliased(OrderItem)
    # max(id), not ORDER BY id DESC LIMIT 1: PostgreSQL then reads one entry of
    # ix_order_items_product_line (product_id, id) where the other may walk the primary key backwards
    # through every line sold since the product last sold.
    newest_line_id = (select(func.max(line.id)).where(line.product_id == ranked.c.product_id)
                      .correlate(ranked).scalar_subquery())
    latest_name = select(newest_line.product_name).where(newest_line.id == newest_line_id).scalar_subquery()
    rows = session.execute(
        select(ranked, latest_name.label("product_name"))
        .where(or_(ranked.c.by_quantity <= limit, ranked.c.by_revenue <= limit))).all()

    def best(rank: str) -> list[dict]:
        chosen = sorted((row for row in rows if getattr(row, rank) <= limit),
                        key=lambda row: getattr(row, rank))
        return [{"productId": row.product_id, "productName": row.product_name, "quantity": int(row.quantity),
                 "revenue": int(row.revenue)} for row in chosen]

    return best("by_quantity"), best("by_revenue")


def _revenue_by_category(session, in_range: list) -> list[dict]:
    """One row per category, under the name it last sold as, so a renamed category stays one row.
    Lines stored before orders kept the category's id have only its name: they join the category
    that sold under that name, or stand alone."""
    rows = session.execute(
        select(OrderItem.category_id, OrderItem.category, func.max(OrderItem.id),
               func.sum(OrderItem.quantity), func.sum(OrderItem.line_total))
        .join(Order).where(*in_range, NOT_CANCELLED)
        .group_by(OrderItem.category_id, OrderItem.category)).all()
    groups: dict[tuple, dict] = {}
    key_of_name: dict[str | None, tuple] = {}
    # Rows with an id first, so that the lines without one find the category they belong to.
    for category_id, name, newest, quantity, revenue in sorted(rows, key=lambda row: row[0] is None):
        key = ("id", category_id) if category_id is not None else key_of_name.get(name, ("name", name))
        key_of_name.setdefault(name, key)
        group = groups.setdefault(key, {"category": name, "newest": newest, "quantity": 0, "revenue": 0})
        if category_id is not None and newest > group["newest"]:
            group["category"], group["newest"] = name, newest
        group["quantity"] += int(quantity)
        group["revenue"] += int(revenue)
    ranked = sorted(groups.values(), key=lambda group: (-group["revenue"], group["category"] or ""))
    return [{"category": group["category"], "quantity": group["quantity"], "revenue": group["revenue"]}
            for group in ranked]


def _day_range(first: date | None, last: date | None) -> list:
    conditions = []
    if first is not None:
        conditions.append(Order.placed_on >= first)
    if last is not None:
        conditions.append(Order.placed_on <= last)
    return conditions


def _count(selection: Select) -> int:
    return db_session().scalar(select(func.count()).select_from(selection.subquery()))


def _page(listing: Select, query: PageQuery, *, total: int) -> dict:
    """A page of `listing`, newest first: by number, or next to a cursor (which neither skips nor
    repeats orders while others arrive or change status, as counting from the top would)."""
    session = db_session()
    page = listing.options(selectinload(Order.items), selectinload(Order.history)).limit(query.page_size)
    newest_first = (Order.created_at.desc(), Order.id.desc())
    if query.after is not None:
        orders = session.scalars(page.where(_older_than(query.after)).order_by(*newest_first)).all()
    elif query.before is not None:
        # The orders just newer than the cursor: read from it upwards, then turn them round.
        orders = session.scalars(page.where(_newer_than(query.before))
                                 .order_by(Order.created_at, Order.id)).all()[::-1]
    else:
        orders = session.scalars(page.order_by(*newest_first)
                                 .offset((query.page - 1) * query.page_size)).all()

    if query.after is None and query.before is None:
        offset = (query.page - 1) * query.page_size
    elif orders:
        offset = _count(listing.where(_newer_than(cursor_of(orders[0]))))
    else:
        offset = total if query.after is not None else 0  # nothing lies beyond the cursor
    return {"orders": [order_json(order) for order in orders], "page": offset // query.page_size + 1,
            "pageSize": query.page_size, "total": total, "offset": offset,
            "nextCursor": cursor_of(orders[-1]) if orders and offset + len(orders) < total else None,
            "prevCursor": cursor_of(orders[0]) if orders and offset > 0 else None}


# Row comparisons, not `created_at < X OR (created_at = X AND id < Y)`: an index on created_at
# serves them as a range, where the OR made PostgreSQL filter every order above the cursor.
def _older_than(cursor: str):
    return tuple_(Order.created_at, Order.id) < cursor_position(cursor)


def _newer_than(cursor: str):
    return tuple_(Order.created_at, Order.id) > cursor_position(cursor)
