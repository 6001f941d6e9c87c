"""Flask CLI commands of the catalog service (`flask --app services.catalog ...`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from services.kit.app import current_config
from services.kit.db import db_session

from .seed import load_seed, read_seed


def register_commands(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option("--file", "seed_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="Seed JSON (default: the original catalog, SEED_FILE)")
    def seed(seed_file: Path | None):
        """Load the original catalog into an empty catalog; a catalog with data is left as it is."""
        path = seed_file or current_config().seed_file
        try:
            data = read_seed(path)
        except ValueError as exc:  # bad JSON, or pydantic's ValidationError (a ValueError)
            raise click.ClickException(f"{path} is not a valid seed file: {exc}") from exc
        result = load_seed(db_session(), data)
        if result.loaded:
            click.echo(f"catalog: seeded {result.categories} categories, {result.products} products, "
                       f"{result.sizes} sizes")
        else:
            click.echo("catalog: already has data; seed skipped")
