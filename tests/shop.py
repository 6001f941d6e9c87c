"""The whole shop in-process: users, catalog, orders, storefront and the gateway, on real PostgreSQL.

One stack per test session (like `make run`, but on port 0 with a throwaway database), shared by
every area that needs the running shop (storefront, CI smoke probes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from services.catalog import create_app as create_catalog
from services.catalog.config import CatalogConfig
from services.gateway import create_gateway
from services.kit.db import upgrade
from services.orders import create_app as create_orders
from services.orders.config import OrdersConfig
from services.storefront import create_app as create_storefront
from services.storefront.config import StorefrontConfig
from services.users import create_app as create_users
from services.users.config import UsersConfig
from services.users.keys import ensure_local_key
from tests.conftest import live_server, temporary_postgres_database

SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@sweetdream.com", "admin123"


class Deferred:
    """A WSGI app set after its server is listening: the storefront must know the gateway's URL,
    and the gateway the storefront's."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class Stack:
    url: str  # the gateway: what a browser opens, like the ALB
    storefront_url: str
    catalog_url: str
    event_log: Path
    public_key_file: Path
    storefront_app: object
    database_url: str

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def login(self, email: str, password: str) -> str:
        response = self.api("POST", "/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def register(self, name: str = "Khách Hàng", address: str | None = "12 Lê Lợi, Quận 1") -> dict:
        password = "matkhau-123"  # noqa: S105 (a test account)
        email = f"shopper-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": password, "name": name}
        if address:
            body["address"] = address
        response = self.api("POST", "/api/auth/register", json=body)
        assert response.status_code == 201, response.text
        return {**response.json(), "email": email, "password": password}

    def admin_token(self) -> str:
        return self.login(ADMIN_EMAIL, ADMIN_PASSWORD)

    def events(self) -> list[dict]:
        if not self.event_log.exists():
            return []
        return [json.loads(line) for line in self.event_log.read_text(encoding="utf-8").splitlines()
                if line.strip()]


def _run_cli(app, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    _private, public_key = ensure_local_key(data_dir)
    event_log = data_dir / "events.jsonl"
    shared = {"environment": "test", "data_dir": data_dir, "event_log_file": str(event_log),
              "log_level": "WARNING"}
    verify = {"jwt_public_key_file": str(public_key)}

    # One database for the three services, as on AWS (one RDS instance, distinct table names).
    with temporary_postgres_database("sdstore") as database_url:
        # Every login here comes from one address (the test browser and every hop are on
        # 127.0.0.1), so the per-address throttles are raised; the users service's own tests cover
        # throttling.
        users_config = UsersConfig(**shared, database_url=database_url, bcrypt_rounds=4,
                                   login_limit_per_address="1000 per minute",
                                   register_limit_per_address="1000 per minute")
        catalog_config = CatalogConfig(**shared, **verify, database_url=database_url)
        for name, config in (("users", users_config), ("catalog", catalog_config)):
            upgrade(SERVICES_DIR / name, config)
        users, catalog = create_users(users_config), create_catalog(catalog_config)
        _run_cli(users, "ensure-admin")
        _run_cli(catalog, "seed")

        storefront_slot = Deferred()
        with live_server(users) as users_url, live_server(catalog) as catalog_url, \
                live_server(storefront_slot) as storefront_url:
            orders_config = OrdersConfig(**shared, **verify, database_url=database_url,
                                         catalog_url=catalog_url, users_url=users_url)
            upgrade(SERVICES_DIR / "orders", orders_config)
            with live_server(create_orders(orders_config)) as orders_url:
                upstreams = {"users": users_url, "catalog": catalog_url, "orders": orders_url,
                             "storefront": storefront_url}
                with live_server(create_gateway(upstreams)) as gateway_url:
                    # Tokens are checked against users' JWKS through the gateway, as on AWS.
                    storefront_slot.app = create_storefront(StorefrontConfig(
                        **shared, api_base_url=gateway_url, secret_key="storefront-test-secret"))
                    yield Stack(gateway_url, storefront_url, catalog_url, event_log, public_key,
                                storefront_slot.app, database_url)
