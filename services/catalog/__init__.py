"""The catalog service (port 3001): products, sizes, categories, search, carts and images."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.kit.app import create_service_app
from services.kit.caching import ReadCache

from .cli import register_commands
from .config import CatalogConfig
from .routes import bp, spec


def create_app(config: CatalogConfig | None = None) -> Flask:
    config = config or CatalogConfig()
    app = create_service_app(__name__, config, blueprints=[bp], spec=spec,
                             service_dir=Path(__file__).parent)
    app.extensions["catalog_read_cache"] = ReadCache(config.read_cache_seconds)
    register_commands(app)
    return app
