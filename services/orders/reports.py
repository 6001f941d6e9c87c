"""Order lists for customers and admins, dashboard totals and the sales summary for charts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from services.kit.app import current_config
from services.kit.db import db_session
from services.kit.errors import Unprocessable

from .models import Order, OrderItem, OrderStatus
from .schemas import AdminOrdersQuery, PageQuery, SummaryQuery, cursor_of, cursor_position, order_json

MAX_SUMMARY_DAYS = 366
NOT_CANCELLED = Order.status != OrderStatus.CANCELLED.value


def customer_orders(customer_id: int, query: PageQuery) -> dict:
    return _page(select(Order).where(Order.customer_id == customer_id), query)


def admin_orders(query: AdminOrdersQuery) -> dict:
    in_range = _day_range(query.date_from, query.date_to)
    listing = select(Order).where(*in_range)
    if query.status is not None:
        listing = listing.where(Order.status == query.status.value)
    page = _page(listing, query)
    # Totals cover the date range whatever the status filter, so every status tab shows its count.
    page["summary"] = dashboard_totals(in_range)
    return page


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

    sold = (select(OrderItem.product_id, func.sum(OrderItem.quantity).label("quantity"),
                   func.sum(OrderItem.line_total).label("revenue"))
            .join(Order).where(*in_range, NOT_CANCELLED).group_by(OrderItem.product_id))

    def best(order_by) -> list[dict]:
        rows = session.execute(sold.order_by(order_by.desc(), OrderItem.product_id).limit(query.limit)).all()
        names = _latest_names(session, [pid for pid, _, _ in rows])
        return [{"productId": pid, "productName": names[pid], "quantity": int(qty), "revenue": int(rev)}
                for pid, qty, rev in rows]

    quantity, revenue = sold.selected_columns.quantity, sold.selected_columns.revenue
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": current_config().business_timezone,
        "totals": dashboard_totals(in_range),
        "days": days,
        "bestSellersByQuantity": best(quantity),
        "bestSellersByRevenue": best(revenue),
        "revenueByCategory": _revenue_by_category(session, in_range),
    }


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


def _page(listing: Select, query: PageQuery) -> dict:
    """A page of `listing`, newest first: by number, or next to a cursor (which neither skips nor
    repeats orders while others arrive or change status, as counting from the top would)."""
    session = db_session()

    def count(selection: Select) -> int:
        return session.scalar(select(func.count()).select_from(selection.subquery()))

    total = count(listing)
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
        offset = count(listing.where(_newer_than(cursor_of(orders[0]))))
    else:
        offset = total if query.after is not None else 0  # nothing lies beyond the cursor
    return {"orders": [order_json(order) for order in orders], "page": offset // query.page_size + 1,
            "pageSize": query.page_size, "total": total, "offset": offset,
            "nextCursor": cursor_of(orders[-1]) if orders and offset + len(orders) < total else None,
            "prevCursor": cursor_of(orders[0]) if orders and offset > 0 else None}


def _older_than(cursor: str):
    created_at, order_id = cursor_position(cursor)
    return or_(Order.created_at < created_at, and_(Order.created_at == created_at, Order.id < order_id))


def _newer_than(cursor: str):
    created_at, order_id = cursor_position(cursor)
    return or_(Order.created_at > created_at, and_(Order.created_at == created_at, Order.id > order_id))


def _latest_names(session, product_ids: list[int]) -> dict[int, str]:
    """Each product under the name of its newest order line: a product renamed in the catalog is
    one best seller, shown as it was last sold."""
    newest = (select(func.max(OrderItem.id)).where(OrderItem.product_id.in_(product_ids))
              .group_by(OrderItem.product_id))
    return dict(session.execute(
        select(OrderItem.product_id, OrderItem.product_name).where(OrderItem.id.in_(newest))).all())
