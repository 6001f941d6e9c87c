"""The shop under gunicorn on PostgreSQL, with fault proxies the tests can break.

    tests ──▶ users, catalog, orders (gunicorn, services/gunicorn_conf.py)
                  │ DATABASE_URL                 orders ──CATALOG_URL──▶ catalog_proxy ──▶ catalog
                  ▼
              db_proxy ──▶ PostgreSQL (a database created for this session)

One stack serves every test in this folder; each test starts from a healthy shop.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from bench.stack import Stack
from tests.conftest import temporary_postgres_database

from .faultproxy import FaultProxy

SERVICES = ("users", "catalog", "orders")
ADDRESS = "12 Nguyen Hue, District 1, Ho Chi Minh City"


@dataclass(frozen=True)
class Shopper:
    id: int
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Shop:
    stack: Stack
    db_proxy: FaultProxy
    catalog_proxy: FaultProxy
    database_url: str  # direct, not through the proxy: what the tests read to check the truth
    admin_token: str

    def url(self, service: str) -> str:
        return self.stack.url(service)

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def register(self, prefix: str = "shopper") -> Shopper:
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        response = requests.post(f"{self.url('users')}/api/auth/register", timeout=10, json={
            "email": email, "password": "cake-lover-2024", "name": "Resilience Shopper",
            "address": ADDRESS})
        assert response.status_code == 201, response.text
        body = response.json()
        return Shopper(int(body["user"]["id"]), email, body["token"])

    def products(self) -> list[dict]:
        response = requests.get(f"{self.url('catalog')}/api/products", params={"pageSize": 100},
                                timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()

    def wait_healthy(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        pending = set(SERVICES)
        while pending:
            for name in list(pending):
                try:
                    if requests.get(self.url(name) + "/health", timeout=2).status_code == 200:
                        pending.discard(name)
                except requests.RequestException:
                    pass
            if pending and time.monotonic() > deadline:
                raise AssertionError(f"not healthy after {timeout}s: {sorted(pending)}")
            if pending:
                time.sleep(0.1)


def _via(url: str, port: int) -> str:
    """`url` with its host and port replaced by the proxy's (credentials kept)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}" if credentials
                                     else f"127.0.0.1:{port}"))


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    with temporary_postgres_database("sdresilience") as database_url:
        server = urlsplit(database_url)
        with FaultProxy(server.hostname or "127.0.0.1", server.port or 5432) as db_proxy:
            stack = Stack(_via(database_url, db_proxy.port), services=SERVICES, gateway=False,
                          env={"BCRYPT_ROUNDS": "4"})  # fast sign-ups; passwords are not under test here
            with FaultProxy("127.0.0.1", stack.servers["catalog"].port) as catalog_proxy:
                stack.catalog_url = f"http://127.0.0.1:{catalog_proxy.port}"
                try:
                    stack.setup()
                    stack.start()
                    login = requests.post(f"{stack.url('users')}/api/auth/login", timeout=10, json={
                        "email": "admin@sweetdream.com", "password": "admin123"})
                    assert login.status_code == 200, login.text
                    yield Shop(stack, db_proxy, catalog_proxy, database_url, login.json()["token"])
                finally:
                    stack.close()


@pytest.fixture
def healthy_shop(shop: Shop) -> Iterator[Shop]:
    """The shared shop, with every fault cleared before and after the test."""
    shop.db_proxy.up()
    shop.catalog_proxy.up()
    shop.wait_healthy()
    yield shop
    shop.db_proxy.up()
    shop.catalog_proxy.up()


def error_shape(response: requests.Response) -> dict:
    """The kit's error body, asserting its shape on the way."""
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"]), body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"], body
    return body["error"]
