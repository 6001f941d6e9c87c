"""The service around the API: migrations match the models, OpenAPI, health, config, CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, func, select, update

from services.kit.db import utcnow
from services.orders.config import OrdersConfig
from services.orders.models import Base, IdempotencyKey
from tests.conftest import migrate_once, migration_drift

from .conftest import CUSTOMER, order_body


def test_migrations_match_the_models(database_url):
    engine = create_engine(OrdersConfig(database_url=migrate_once("orders", database_url)).sqlalchemy_url)
    assert migration_drift(engine, Base.metadata, "orders") == []
    engine.dispose()


def test_openapi_documents_every_endpoint(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths) == {"/api/orders", "/api/orders/summary", "/api/orders/by-key",
                          "/api/orders/user/{user_id}", "/api/orders/{order_id}",
                          "/api/orders/{order_id}/status", "/api/orders/{order_id}/cancel"}
    assert set(paths["/api/orders"]) == {"get", "post"}
    assert "201" in paths["/api/orders"]["post"]["responses"]
    assert "409" in paths["/api/orders/{order_id}/status"]["patch"]["responses"]


def test_health(client):
    assert client.get("/health").get_json() == {"status": "ok", "service": "orders"}


def test_config_defaults_and_limits(monkeypatch):
    monkeypatch.setenv("SHIPPING_FEE_VND", "25000")
    monkeypatch.setenv("CATALOG_URL", "http://catalog.sweetdream.local:3001")
    config = OrdersConfig()
    assert config.shipping_fee_vnd == 25_000
    assert config.catalog_url == "http://catalog.sweetdream.local:3001"
    with pytest.raises(ValidationError):
        OrdersConfig(shipping_fee_vnd=-1)
    with pytest.raises(ValidationError):
        OrdersConfig(business_timezone="Mars/Olympus")


def test_prune_idempotency_keys(app, client, auth):
    for key in ("old", "new"):
        client.post("/api/orders", json=order_body((1, "12cm", 1)),
                    headers=auth(CUSTOMER, **{"Idempotency-Key": key}))
    engine = app.extensions["db"].engine
    with engine.begin() as conn:
        conn.execute(update(IdempotencyKey).where(IdempotencyKey.key == "old")
                     .values(created_at=utcnow() - timedelta(days=31)))
    result = app.test_cli_runner().invoke(args=["prune-idempotency-keys", "--older-than-days", "30"])
    assert result.exit_code == 0 and "pruned 1" in result.output
    with engine.connect() as conn:
        assert conn.scalars(select(IdempotencyKey.key)).all() == ["new"]
        assert conn.scalar(select(func.count()).select_from(Base.metadata.tables["orders"])) == 2
