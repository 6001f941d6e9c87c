"""Catalog settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.kit.config import ServiceConfig

SERVICE_DIR = Path(__file__).resolve().parent


class CatalogConfig(ServiceConfig):
    service_name: str = "catalog"

    # The original catalog, loaded by `flask --app services.catalog seed` into an empty database.
    seed_file: Path = SERVICE_DIR / "catalog-seed.json"
    # How long shoppers' browsers may reuse a catalog read before revalidating it with its ETag.
    catalog_cache_seconds: int = Field(default=60, ge=0, le=86_400)
    # How long each process reuses a shopper's catalog read it built (services/catalog/readcache.py);
    # 0 turns it off. Admin writes clear the process's copy at once.
    read_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    image_cache_seconds: int = Field(default=86_400, ge=0, le=31_536_000)
