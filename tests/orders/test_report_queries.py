"""The queries behind order lists and the sales summary: what each request reads, the same answers
on SQLite and PostgreSQL, and PostgreSQL serving cursors and best-seller names from indexes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, update

from services.orders.models import Order
from tests.conftest import migrate_once

from .conftest import ADMIN, CUSTOMER
from .test_listing import _admin_page, _move

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
TABLE_READS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Index Scan"}
CURSOR_CONDITION = re.compile(r"orders\.(created_at|id)\)? [<>]")  # old and new spelling alike


@pytest.fixture
def app(make_app, database_url):
    """Each test here runs on PostgreSQL and on SQLite unless it says ON_POSTGRESQL."""
    return make_app(migrate_once("orders", database_url))


@contextmanager
def statements_run(app) -> Iterator[list[tuple[str, object]]]:
    """(SQL, parameters) of every statement the app sends meanwhile."""
    ran = []

    def record(conn, cursor, statement, parameters, context, executemany):
        ran.append((statement, parameters))

    engine = app.extensions["db"].engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", record)


def plan_nodes(app, statement: str, parameters) -> list[dict]:
    """Every node of PostgreSQL's executed plan of the statement, depth first."""
    with app.extensions["db"].engine.connect() as conn:
        [explained] = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).scalar()
    return list(plan_nodes_under(explained["Plan"]))


def plan_nodes_under(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes_under(child)


def load_orders(app, count: int) -> None:
    """`count` orders of today a minute apart, a fifth of them PENDING, with three lines each over
    50 products: enough rows for PostgreSQL to plan as it would for a real shop."""
    with app.extensions["db"].engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO orders (customer_id, placed_by, status, subtotal, shipping_fee, total_amount,"
            " shipping_address, placed_on, created_at, updated_at, version)"
            " SELECT 5000 + mod(g, 50), 1, (ARRAY['PENDING', 'PROCESSING', 'SHIPPED', 'DELIVERED',"
            " 'CANCELLED'])[1 + mod(g, 5)], 90000, 20000, 110000, 'x',"
            " (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, now() - g * interval '1 minute', now(), 1"
            " FROM generate_series(1, %(count)s) g", {"count": count})
        conn.exec_driver_sql(
            "INSERT INTO order_items (order_id, product_id, product_name, category_id, category, size,"
            " unit_price, quantity, line_total)"
            " SELECT o.id, 1 + mod(o.id * 7 + k, 50), 'Bánh', 1, 'Bánh Mousse', '12cm', 90000, 1, 90000"
            " FROM orders o, generate_series(1, 3) k")
        conn.exec_driver_sql("ANALYZE orders")
        conn.exec_driver_sql("ANALYZE order_items")


@ON_POSTGRESQL
@pytest.mark.parametrize("tab", ["", "status=PENDING&"])
def test_a_cursor_page_and_its_offset_are_read_from_the_cursor_through_an_index(app, client, auth, tab):
    load_orders(app, 2500)
    by_number = {n: _admin_page(client, auth, f"{tab}pageSize=5&page={n}") for n in (49, 50, 51)}
    for direction, cursor, expected in (("after", by_number[50]["nextCursor"], by_number[51]),
                                        ("before", by_number[50]["prevCursor"], by_number[49])):
        with statements_run(app) as ran:
            page = _admin_page(client, auth, f"{tab}pageSize=5&{direction}={cursor}")
        assert page["orders"] == expected["orders"]
        assert (page["offset"], page["page"], page["total"]) == (
            expected["offset"], expected["page"], expected["total"])

        by_cursor = [(sql, parameters) for sql, parameters in ran if CURSOR_CONDITION.search(sql)]
        assert len(by_cursor) == 2  # the page and the count of the orders above it
        for sql, parameters in by_cursor:
            reads = [node for node in plan_nodes(app, sql, parameters) if node["Node Type"] in TABLE_READS
                     and (node.get("Relation Name") == "orders" or "ix_orders" in node.get("Index Name", ""))]
            assert reads and all("created_at" in node.get("Index Cond", "") for node in reads), reads


@pytest.mark.parametrize("listing", ["/api/orders?", f"/api/orders/user/{CUSTOMER}?"])
def test_cursor_pages_order_orders_of_one_instant_by_id_both_ways(app, client, auth, place, listing):
    ids = [place()["id"] for _ in range(7)]
    with app.extensions["db"].engine.begin() as conn:  # four placed in the same microsecond
        instant = conn.scalar(select(Order.created_at).where(Order.id == ids[1]))
        conn.execute(update(Order).where(Order.id.in_(ids[1:5])).values(created_at=instant))
    newest_first = ids[::-1]

    def page(query: str) -> dict:
        response = client.get(f"{listing}pageSize=2&{query}", headers=auth(ADMIN, "ADMIN"))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    forward = [page("page=1")]
    while forward[-1]["nextCursor"]:
        forward.append(page(f"after={forward[-1]['nextCursor']}"))
    backward = [forward[-1]]
    while backward[-1]["prevCursor"]:
        backward.append(page(f"before={backward[-1]['prevCursor']}"))
    labels = [(p["offset"], p["page"], p["total"]) for p in forward]
    assert [[o["id"] for o in p["orders"]] for p in forward] == [newest_first[n:n + 2] for n in (0, 2, 4, 6)]
    assert labels == [(0, 1, 7), (2, 2, 7), (4, 3, 7), (6, 4, 7)]
    assert [p["orders"] for p in backward] == [p["orders"] for p in forward[::-1]]
    assert [(p["offset"], p["page"], p["total"]) for p in backward] == labels[::-1]


def test_an_admin_page_counts_its_orders_once_with_the_dashboard_totals(app, client, auth, place):
    place(), place()
    _move(client, auth, place()["id"], "CANCELLED")
    everything_counted = lambda ran: [sql for sql, _ in ran if "count(*)" in sql]  # noqa: E731
    for tab, total in (("", 3), ("status=PENDING&", 2), ("status=SHIPPED&", 0)):
        with statements_run(app) as ran:
            first = _admin_page(client, auth, f"{tab}pageSize=1")
        [totals] = everything_counted(ran)
        assert "GROUP BY orders.status" in totals
        assert first["total"] == total and len(first["orders"]) == min(total, 1)
        assert first["summary"]["byStatus"] == {"PENDING": 2, "PROCESSING": 0, "SHIPPED": 0, "DELIVERED": 0,
                                                "CANCELLED": 1}
        if first["nextCursor"]:
            with statements_run(app) as ran:
                second = _admin_page(client, auth, f"{tab}pageSize=1&after={first['nextCursor']}")
            assert len(everything_counted(ran)) == 2  # the totals and the offset of the page
            assert (second["total"], second["offset"], second["page"]) == (total, 1, 2)


def test_best_sellers_are_one_aggregate_ranked_both_ways_ties_to_the_lower_product_id(
        app, client, auth, catalog, place):
    mousse, mousse_bo = catalog.price(1, "12cm"), catalog.price(8, "12cm")
    assert mousse == mousse_bo > catalog.price(6, "M") * 2 and catalog.price(2, "16cm") < 2 * mousse
    order = place(lines=((8, "12cm", 2), (1, "12cm", 2), (6, "M", 2), (2, "16cm", 1)))
    sold = {item["productId"]: {"productId": item["productId"], "productName": item["productName"],
                                "quantity": item["quantity"], "revenue": item["lineTotal"]}
            for item in order["items"]}

    with statements_run(app) as ran:
        top_two = client.get("/api/orders/summary?limit=2", headers=auth(ADMIN, "ADMIN")).get_json()
    everything = client.get("/api/orders/summary", headers=auth(ADMIN, "ADMIN")).get_json()
    # 1, 6 and 8 sold two each; 1 and 8 the most money: the lower id goes first.
    assert top_two["bestSellersByQuantity"] == [sold[1], sold[6]]
    assert top_two["bestSellersByRevenue"] == [sold[1], sold[8]]
    assert everything["bestSellersByQuantity"] == [sold[1], sold[6], sold[8], sold[2]]
    assert everything["bestSellersByRevenue"] == [sold[1], sold[8], sold[2], sold[6]]
    assert len([sql for sql, _ in ran if "GROUP BY order_items.product_id" in sql]) == 1
    assert len([sql for sql, _ in ran if "FROM order_items" in sql]) == 2  # best sellers, categories


@ON_POSTGRESQL
def test_each_best_seller_is_named_from_its_newest_line_alone(app, client, auth):
    load_orders(app, 2000)
    with statements_run(app) as ran:
        summary = client.get("/api/orders/summary?limit=5", headers=auth(ADMIN, "ADMIN")).get_json()
    assert len(summary["bestSellersByQuantity"]) == len(summary["bestSellersByRevenue"]) == 5
    [(sql, parameters)] = [(sql, p) for sql, p in ran if "GROUP BY order_items.product_id" in sql]
    nodes = plan_nodes(app, sql, parameters)
    [naming] = [node for node in nodes if node.get("Parent Relationship") == "SubPlan"]
    line_reads = [node for node in plan_nodes_under(naming) if node.get("Relation Name") == "order_items"]
    # The newest line's id from (product_id, id), then that line by its id: one row each.
    assert {node["Index Name"] for node in line_reads} == {"ix_order_items_product_line", "order_items_pkey"}
    assert all(node["Actual Rows"] == 1 and node["Actual Loops"] >= 5 for node in line_reads), line_reads
