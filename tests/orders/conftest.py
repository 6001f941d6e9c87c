"""Orders tests: a real catalog service in the loop (its own database, migrated and seeded)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from services.orders import create_app
from services.orders.config import OrdersConfig
from services.orders.models import IdempotencyKey, Order, OrderItem, OrderStatusHistory
from tests.conftest import close_apps, live_server, migrate_once, temporary_postgres_database

CUSTOMER, OTHER_CUSTOMER, ADMIN = 1001, 1002, 1
ADDRESS = "12 Nguyễn Huệ, Quận 1, TP. Hồ Chí Minh"


@dataclass
class CatalogFaults:
    """Fault injection in front of the real catalog app: slowness and a failing cart clear."""

    price_delay_s: float = 0.0
    price_answer: tuple[str, bytes] | None = None  # (status line, body) instead of the real answer
    fail_cart_clear: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.price_delay_s, self.price_answer, self.fail_cart_clear = 0.0, None, False
        with self._lock:
            self.calls.clear()

    def wrap(self, wsgi_app):
        def middleware(environ, start_response):
            method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
            with self._lock:
                self.calls.append((method, path))
            if path == "/api/products/prices" and self.price_delay_s:
                time.sleep(self.price_delay_s)
            if path == "/api/products/prices" and self.price_answer:
                status, body = self.price_answer
                start_response(status, [("Content-Type", "application/json")])
                return [body]
            if path.startswith("/api/cart/user/") and path.endswith("/ordered") and self.fail_cart_clear:
                start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "application/json")])
                return [b'{"error": {"code": "internal_error", "message": "injected", "details": null}}']
            return wsgi_app(environ, start_response)
        return middleware


@dataclass
class Catalog:
    url: str
    app: object
    faults: CatalogFaults

    def quote(self, product_id: int, size: str) -> dict:
        """What the catalog says right now, through its own public price lookup."""
        response = requests.post(f"{self.url}/api/products/prices",
                                 json={"items": [{"productId": product_id, "size": size}]}, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()["items"][0]

    def price(self, product_id: int, size: str) -> int:
        quote = self.quote(product_id, size)
        assert quote["available"], quote
        return quote["price"]


@pytest.fixture(scope="session")
def catalog(tokens) -> Iterator[Catalog]:
    from services.catalog import create_app as create_catalog_app
    from services.catalog.config import CatalogConfig

    with temporary_postgres_database("sdorders_catalog") as url:
        app = create_catalog_app(CatalogConfig(environment="test", database_url=url,
                                               jwt_public_key=tokens.public_pem))
        runner = app.test_cli_runner()
        for command in (["migrate"], ["seed"]):
            result = runner.invoke(args=command)
            assert result.exit_code == 0, result.output
        faults = CatalogFaults()
        app.wsgi_app = faults.wrap(app.wsgi_app)
        with live_server(app) as base_url:
            yield Catalog(base_url, app, faults)
        app.extensions["db"].engine.dispose()


@dataclass
class Users:
    """A stand-in for the users service's `GET /api/customers/<id>`, which orders asks when an admin
    orders for someone else: every id is a customer except those in `missing`; `down` answers 503."""

    url: str = ""
    missing: set[int] = field(default_factory=set)
    down: bool = False
    page: tuple[int, str] | None = None  # (status, HTML): another server behind a wrong USERS_URL
    calls: list[tuple[int, str | None]] = field(default_factory=list)  # (id, Authorization)

    def reset(self) -> None:
        self.missing, self.down, self.page = set(), False, None
        self.calls.clear()


@pytest.fixture(scope="session")
def users() -> Iterator[Users]:
    from flask import Flask, request

    state = Users()
    app = Flask("users-stand-in")

    @app.get("/api/customers/<int:customer_id>")
    def customer(customer_id: int):
        state.calls.append((customer_id, request.headers.get("Authorization")))
        if state.page:
            status, html = state.page
            return html, status, {"Content-Type": "text/html"}
        if state.down:
            return {"error": {"code": "database_unavailable", "message": "down", "details": None}}, 503
        if customer_id in state.missing:
            return {"error": {"code": "not_found", "message": "No such customer", "details": None}}, 404
        return {"id": customer_id, "email": f"khach{customer_id}@example.com", "role": "CUSTOMER"}

    with live_server(app) as url:
        state.url = url
        yield state


@pytest.fixture(autouse=True)
def _reset_catalog_faults(request):
    yield
    if "catalog" in request.fixturenames:
        request.getfixturevalue("catalog").faults.reset()
    if "users" in request.fixturenames:
        request.getfixturevalue("users").reset()


@pytest.fixture(scope="session")
def orders_database(postgres_url) -> str:
    return migrate_once("orders", postgres_url)


@pytest.fixture
def make_app(tokens, catalog, users, events_file):
    """Orders apps on a given database; their rows are deleted and engines closed afterwards."""
    apps = []

    def make(database_url: str, **overrides):
        settings = {"environment": "test", "database_url": database_url,
                    "jwt_public_key": tokens.public_pem, "catalog_url": catalog.url, "users_url": users.url,
                    "event_log_file": str(events_file), "log_level": "WARNING"}
        settings.update(overrides)
        app = create_app(OrdersConfig(**settings))
        apps.append(app)
        return app

    yield make
    close_apps(apps, IdempotencyKey, OrderStatusHistory, OrderItem, Order)


@pytest.fixture
def app(make_app, orders_database):
    return make_app(orders_database)


def order_body(*lines: tuple[int, str, int], **fields) -> dict:
    return {"items": [{"productId": pid, "size": size, "quantity": qty} for pid, size, qty in lines],
            "shippingAddress": ADDRESS, **fields}


@pytest.fixture
def place(client, auth):
    """Place an order as `user_id` (customer by default) and return the created order."""
    def place_order(user_id: int = CUSTOMER, role: str = "CUSTOMER", lines=((1, "12cm", 1),),
                    **fields) -> dict:
        response = client.post("/api/orders", json=order_body(*lines, **fields),
                                headers=auth(user_id, role))
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return place_order


def row_counts(app) -> dict[str, int]:
    from sqlalchemy import func, select
    with app.extensions["db"].engine.connect() as conn:
        return {model.__tablename__: conn.scalar(select(func.count()).select_from(model))
                for model in (Order, OrderItem, OrderStatusHistory, IdempotencyKey)}
