"""The orders service (port 3002): checkout with server-side prices, status flow, order history."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.kit.app import create_service_app

from .catalog import CatalogClient
from .cli import register_commands
from .config import OrdersConfig
from .customers import UsersClient
from .routes import bp, spec


def create_app(config: OrdersConfig | None = None) -> Flask:
    config = config or OrdersConfig()
    app = create_service_app(__name__, config, blueprints=[bp], spec=spec,
                             service_dir=Path(__file__).parent)
    app.extensions["catalog"] = CatalogClient(config)
    app.extensions["users"] = UsersClient(config)
    register_commands(app)
    return app
