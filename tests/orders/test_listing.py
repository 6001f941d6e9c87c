"""Reading orders: owners and admins only; admin lists with filters, dashboard totals, sales summary."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from services.orders.models import Order, OrderItem
from tests.conftest import assert_error

from .conftest import ADMIN, CUSTOMER, OTHER_CUSTOMER

TODAY = lambda: datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()  # noqa: E731


def test_owner_and_admin_read_an_order_with_items_and_history(client, auth, place):
    order = place(lines=((1, "12cm", 2), (2, "16cm", 1)))
    # The same order; only what each may do next differs (test_status_flow.py covers nextStatuses).
    as_admin = order | {"nextStatuses": ["PROCESSING", "CANCELLED"]}
    for headers, expected in ((auth(CUSTOMER), order), (auth(ADMIN, "ADMIN"), as_admin)):
        response = client.get(f"/api/orders/{order['id']}", headers=headers)
        assert response.status_code == 200
        assert response.get_json() == expected


def test_another_customers_order_is_404(client, auth, place):
    order = place()
    assert_error(client.get(f"/api/orders/{order['id']}", headers=auth(OTHER_CUSTOMER)), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/orders/999999", "/api/orders/2147483648",
                                  "/api/orders/99999999999999999999999", "/api/orders/-1",
                                  "/api/orders/abc"])
def test_missing_or_impossible_order_ids_are_404(client, auth, path):
    assert_error(client.get(path, headers=auth(ADMIN, "ADMIN")), 404, "not_found")


def test_reading_needs_a_token(client, place):
    order = place()
    assert_error(client.get(f"/api/orders/{order['id']}"), 401, "unauthorized")
    assert_error(client.get(f"/api/orders/user/{CUSTOMER}"), 401, "unauthorized")
    assert_error(client.get("/api/orders"), 401, "unauthorized")


def test_customer_orders_newest_first_and_paginated(client, auth, place):
    ids = [place()["id"] for _ in range(5)]
    place(OTHER_CUSTOMER)
    first = client.get(f"/api/orders/user/{CUSTOMER}?pageSize=2", headers=auth(CUSTOMER)).get_json()
    assert [o["id"] for o in first["orders"]] == ids[::-1][:2]
    assert (first["page"], first["pageSize"], first["total"]) == (1, 2, 5)
    third = client.get(f"/api/orders/user/{CUSTOMER}?pageSize=2&page=3", headers=auth(CUSTOMER)).get_json()
    assert [o["id"] for o in third["orders"]] == [ids[0]]
    beyond = client.get(f"/api/orders/user/{CUSTOMER}?page=9", headers=auth(CUSTOMER)).get_json()
    assert beyond["orders"] == [] and beyond["total"] == 5
    assert all(o["items"] and o["statusHistory"] for o in first["orders"])


def test_customer_orders_of_someone_else_are_403_but_admins_may(client, auth, place):
    place()
    assert_error(client.get(f"/api/orders/user/{CUSTOMER}", headers=auth(OTHER_CUSTOMER)), 403, "forbidden")
    admin_view = client.get(f"/api/orders/user/{CUSTOMER}", headers=auth(ADMIN, "ADMIN"))
    assert admin_view.status_code == 200 and admin_view.get_json()["total"] == 1


@pytest.mark.parametrize("query", ["page=0", "page=abc", "pageSize=0", "pageSize=101", "pageSize=-3",
                                   "page=99999999999999999999", "sort=id"])
def test_bad_paging_is_422(client, auth, query):
    assert_error(client.get(f"/api/orders/user/{CUSTOMER}?{query}", headers=auth(CUSTOMER)),
                 422, "validation_error")


def test_admin_list_is_admin_only(client, auth):
    assert_error(client.get("/api/orders", headers=auth(CUSTOMER)), 403, "forbidden")
    assert_error(client.get("/api/orders/summary", headers=auth(CUSTOMER)), 403, "forbidden")


def _move(client, auth, order_id: int, *steps: str) -> None:
    for step in steps:
        response = client.patch(f"/api/orders/{order_id}/status", json={"status": step},
                                headers=auth(ADMIN, "ADMIN"))
        assert response.status_code == 200, response.get_json()


def _backdate(app, order_id: int, day: date) -> None:
    with app.extensions["db"].engine.begin() as conn:
        conn.execute(update(Order).where(Order.id == order_id).values(placed_on=day))


def test_admin_list_filters_pages_and_totals(client, app, auth, place):
    pending = place()
    processing = place(OTHER_CUSTOMER, lines=((2, "16cm", 2),))
    cancelled = place()
    old = place()
    _move(client, auth, processing["id"], "PROCESSING")
    _move(client, auth, cancelled["id"], "CANCELLED")
    _backdate(app, old["id"], TODAY() - timedelta(days=10))

    everything = client.get("/api/orders", headers=auth(ADMIN, "ADMIN")).get_json()
    assert everything["total"] == 4
    assert [o["id"] for o in everything["orders"]] == [old["id"], cancelled["id"], processing["id"],
                                                       pending["id"]]
    revenue = pending["totalAmount"] + processing["totalAmount"] + old["totalAmount"]
    assert everything["summary"] == {
        "orderCount": 3, "revenue": revenue, "cancelledCount": 1,
        "byStatus": {"PENDING": 2, "PROCESSING": 1, "SHIPPED": 0, "DELIVERED": 0, "CANCELLED": 1}}

    only_pending = client.get("/api/orders?status=PENDING", headers=auth(ADMIN, "ADMIN")).get_json()
    assert {o["id"] for o in only_pending["orders"]} == {pending["id"], old["id"]}
    assert only_pending["total"] == 2
    assert only_pending["summary"] == everything["summary"]  # totals ignore the status tab

    today = TODAY().isoformat()
    recent = client.get(f"/api/orders?from={today}&to={today}", headers=auth(ADMIN, "ADMIN")).get_json()
    assert {o["id"] for o in recent["orders"]} == {pending["id"], processing["id"], cancelled["id"]}
    assert recent["summary"]["orderCount"] == 2
    assert recent["summary"]["revenue"] == pending["totalAmount"] + processing["totalAmount"]

    any_filter = client.get("/api/orders?status=&from=&to=", headers=auth(ADMIN, "ADMIN")).get_json()
    assert any_filter == everything  # an HTML form's empty "any" choices

    paged = client.get("/api/orders?pageSize=3&page=2", headers=auth(ADMIN, "ADMIN")).get_json()
    assert [o["id"] for o in paged["orders"]] == [pending["id"]]


@pytest.mark.parametrize("query", ["status=LOST", "from=2024-13-01", "from=yesterday",
                                   "from=2024-02-02&to=2024-02-01", "pageSize=1000", "isAdmin=true"])
def test_admin_list_bad_filters_are_422(client, auth, query):
    assert_error(client.get(f"/api/orders?{query}", headers=auth(ADMIN, "ADMIN")), 422, "validation_error")


# Days Python can hold but not move by the summary's 29 days (or a time zone): they were 500s.
@pytest.mark.parametrize("query, field", [("from=0001-01-01", "from"), ("to=0001-01-01", "to"),
                                          ("to=9999-12-31", "to"), ("from=9999-12-31", "from")])
@pytest.mark.parametrize("path", ["/api/orders", "/api/orders/summary"])
def test_days_beyond_the_calendar_are_422_naming_the_filter(client, auth, path, query, field):
    error = assert_error(client.get(f"{path}?{query}", headers=auth(ADMIN, "ADMIN")),
                         422, "validation_error")
    assert [d["field"] for d in error["details"]] == [field]


def test_days_at_the_ends_of_the_accepted_range_are_fine(client, auth):
    summary = client.get("/api/orders/summary?to=0002-01-01", headers=auth(ADMIN, "ADMIN"))
    assert summary.status_code == 200, summary.get_json()
    assert (summary.get_json()["from"], summary.get_json()["to"]) == ("0001-12-03", "0002-01-01")
    listing = client.get("/api/orders?from=0002-01-01&to=9998-12-31", headers=auth(ADMIN, "ADMIN"))
    assert listing.status_code == 200, listing.get_json()


def test_sales_summary_for_charts(client, app, auth, catalog, place):
    mousse, tiramisu = catalog.price(1, "12cm"), catalog.price(2, "16cm")
    a = place(lines=((1, "12cm", 3),))
    b = place(OTHER_CUSTOMER, lines=((1, "12cm", 1), (2, "16cm", 2)))
    c = place(lines=((2, "16cm", 5),))
    _move(client, auth, c["id"], "CANCELLED")  # cancelled: not in revenue nor best sellers
    earlier = place(lines=((2, "16cm", 1),))
    day_before = TODAY() - timedelta(days=2)
    _backdate(app, earlier["id"], day_before)

    frm, to = (TODAY() - timedelta(days=3)).isoformat(), TODAY().isoformat()
    summary = client.get(f"/api/orders/summary?from={frm}&to={to}",
                         headers=auth(ADMIN, "ADMIN")).get_json()
    assert (summary["from"], summary["to"], summary["timezone"]) == (frm, to, "Asia/Ho_Chi_Minh")
    assert [d["date"] for d in summary["days"]] == [
        (TODAY() - timedelta(days=n)).isoformat() for n in (3, 2, 1, 0)]
    assert [(d["orders"], d["revenue"]) for d in summary["days"]] == [
        (0, 0), (1, earlier["totalAmount"]), (0, 0), (2, a["totalAmount"] + b["totalAmount"])]
    assert summary["totals"]["orderCount"] == 3 and summary["totals"]["cancelledCount"] == 1
    assert summary["totals"]["revenue"] == a["totalAmount"] + b["totalAmount"] + earlier["totalAmount"]

    by_quantity = [(p["productId"], p["quantity"], p["revenue"]) for p in summary["bestSellersByQuantity"]]
    assert by_quantity == [(1, 4, 4 * mousse), (2, 3, 3 * tiramisu)]
    by_revenue = [p["productId"] for p in summary["bestSellersByRevenue"]]
    assert by_revenue == sorted((1, 2), key=lambda pid: -{1: 4 * mousse, 2: 3 * tiramisu}[pid])
    categories = {c["category"]: (c["quantity"], c["revenue"]) for c in summary["revenueByCategory"]}
    mousse_category = catalog.quote(1, "12cm")["category"]
    tiramisu_category = catalog.quote(2, "16cm")["category"]
    assert categories == {mousse_category: (4, 4 * mousse), tiramisu_category: (3, 3 * tiramisu)}


def test_a_renamed_best_seller_is_one_row_under_the_name_it_last_sold_as(client, app, auth, place):
    first = place(lines=((1, "12cm", 1),))
    place(lines=((1, "12cm", 2),))
    with app.extensions["db"].engine.begin() as conn:  # the catalog renamed it between the two orders
        conn.execute(update(OrderItem).where(OrderItem.order_id == first["id"])
                     .values(product_name="Zz Tên cũ"))
    summary = client.get("/api/orders/summary", headers=auth(ADMIN, "ADMIN")).get_json()
    [row] = summary["bestSellersByQuantity"]
    assert (row["productId"], row["quantity"], row["productName"]) == (1, 3, "Mousse Dâu")


def test_a_renamed_category_is_one_row_under_the_name_it_last_sold_as(client, app, auth, place):
    first = place(lines=((1, "12cm", 1),))
    place(lines=((1, "12cm", 2), (4, "Hộp 6 cái", 1)))
    with app.extensions["db"].engine.begin() as conn:  # the catalog renamed it between the two orders
        conn.execute(update(OrderItem).where(OrderItem.order_id == first["id"])
                     .values(category="Aa Tên cũ"))
    summary = client.get("/api/orders/summary", headers=auth(ADMIN, "ADMIN")).get_json()
    assert [(row["category"], row["quantity"]) for row in summary["revenueByCategory"]] == [
        ("Bánh Mousse", 3), ("Bánh Nướng", 1)]


def test_lines_stored_without_a_category_id_join_the_category_sold_under_their_name(
        client, app, auth, place, catalog):
    older = place(lines=((1, "12cm", 1), (4, "Hộp 6 cái", 1)))
    place(lines=((1, "12cm", 2),))
    with app.extensions["db"].engine.begin() as conn:  # placed before order lines kept the id
        conn.execute(update(OrderItem).where(OrderItem.order_id == older["id"]).values(category_id=None))
    summary = client.get("/api/orders/summary", headers=auth(ADMIN, "ADMIN")).get_json()
    mousse, bakery = catalog.price(1, "12cm"), catalog.price(4, "Hộp 6 cái")
    assert summary["revenueByCategory"] == [
        {"category": "Bánh Mousse", "quantity": 3, "revenue": 3 * mousse},
        {"category": "Bánh Nướng", "quantity": 1, "revenue": bakery}]


def test_sales_summary_defaults_to_the_last_30_days(client, auth, place):
    place()
    summary = client.get("/api/orders/summary", headers=auth(ADMIN, "ADMIN")).get_json()
    assert len(summary["days"]) == 30 and summary["to"] == TODAY().isoformat()
    assert summary["days"][-1]["orders"] == 1


def test_sales_summary_limit(client, auth, place):
    place(lines=((1, "12cm", 1), (2, "12cm", 1), (3, "12cm", 1)))
    summary = client.get("/api/orders/summary?limit=2", headers=auth(ADMIN, "ADMIN")).get_json()
    assert len(summary["bestSellersByQuantity"]) == len(summary["bestSellersByRevenue"]) == 2


@pytest.mark.parametrize("query", ["from=2020-01-01&to=2024-01-01", "limit=0", "limit=51",
                                   "from=2024-02-02&to=2024-02-01", "to=nope", "from=2999-01-01"])
def test_sales_summary_bad_ranges_are_422(client, auth, query):
    assert_error(client.get(f"/api/orders/summary?{query}", headers=auth(ADMIN, "ADMIN")),
                 422, "validation_error")


def _admin_page(client, auth, query: str) -> dict:
    response = client.get(f"/api/orders?{query}", headers=auth(ADMIN, "ADMIN"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_cursor_pages_cover_the_list_once_each_way(client, auth, place):
    ids = [place()["id"] for _ in range(5)][::-1]  # newest first, as listed
    seen, offsets, cursor, page = [], [], None, None
    while cursor is not None or page is None:
        page = _admin_page(client, auth, "pageSize=2" + (f"&after={cursor}" if cursor else ""))
        seen += [o["id"] for o in page["orders"]]
        offsets.append((page["offset"], page["page"], page["prevCursor"] is not None))
        cursor = page["nextCursor"]
    assert seen == ids
    assert offsets == [(0, 1, False), (2, 2, True), (4, 3, True)]
    back, cursor = [], page["prevCursor"]
    while cursor is not None:
        page = _admin_page(client, auth, f"pageSize=2&before={cursor}")
        back = [o["id"] for o in page["orders"]] + back
        cursor = page["prevCursor"]
    assert back == ids[:4] and page["offset"] == 0 and page["nextCursor"] is not None


def test_working_through_the_pending_tab_by_cursor_skips_no_order(client, auth, place):
    """Numbered pages shift when the orders an admin just handled leave the tab, so page 2 would
    show what was page 3; the next page by cursor shows the orders right after the ones handled."""
    ids = [place()["id"] for _ in range(5)][::-1]
    first = _admin_page(client, auth, "status=PENDING&pageSize=2")
    for order in first["orders"]:
        _move(client, auth, order["id"], "PROCESSING")
    place()  # a new order at the top moves numbered pages the other way
    by_number = _admin_page(client, auth, "status=PENDING&pageSize=2&page=2")
    by_cursor = _admin_page(client, auth, f"status=PENDING&pageSize=2&after={first['nextCursor']}")
    assert [o["id"] for o in by_cursor["orders"]] == ids[2:4]
    assert [o["id"] for o in by_number["orders"]] != ids[2:4]  # what the cursor is for
    assert (by_cursor["offset"], by_cursor["total"]) == (1, 4)  # the new order is above it


def test_a_customer_pages_their_own_orders_by_cursor(client, auth, place):
    mine = [place()["id"] for _ in range(3)][::-1]
    place(OTHER_CUSTOMER)
    first = client.get(f"/api/orders/user/{CUSTOMER}?pageSize=2", headers=auth(CUSTOMER)).get_json()
    rest = client.get(f"/api/orders/user/{CUSTOMER}?pageSize=2&after={first['nextCursor']}",
                      headers=auth(CUSTOMER)).get_json()
    assert [o["id"] for o in first["orders"] + rest["orders"]] == mine
    assert rest["nextCursor"] is None and rest["offset"] == 2


def test_a_cursor_past_either_end_gives_an_empty_page(client, auth, place):
    place()
    oldest = _admin_page(client, auth, "after=1-1")  # 1 µs after 1970: older than every order
    newest = _admin_page(client, auth, "before=32472144000000000-1")  # 2999-01-01: newer than every order
    assert oldest["orders"] == newest["orders"] == []
    assert (oldest["offset"], newest["offset"]) == (1, 0)
    assert oldest["nextCursor"] is oldest["prevCursor"] is newest["nextCursor"] is None


@pytest.mark.parametrize("query", [
    "after=abc", "after=", "after=1-0", "after=1-2147483648", "after=-1-2", "after=1.5-2",
    "before=253370678400000001-1",  # past 9998-12-31, the last day a request may name
    "after=9999999999999999999-1", "after=1-99999999999999999999",
    "after=1-2&before=3-4", "page=2&after=1-2", "page=1&before=1-2", "before=%00"])
def test_bad_cursors_are_422(client, auth, query):
    assert_error(client.get(f"/api/orders?{query}", headers=auth(ADMIN, "ADMIN")), 422, "validation_error")
    assert_error(client.get(f"/api/orders/user/{CUSTOMER}?{query}", headers=auth(CUSTOMER)),
                 422, "validation_error")
