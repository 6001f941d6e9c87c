"""Flask CLI commands of the orders service (`flask --app services.orders ...`)."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask
from sqlalchemy import delete

from services.kit.db import db_session, utcnow

from .models import IdempotencyKey


def register_commands(app: Flask) -> None:
    @app.cli.command("prune-idempotency-keys")
    @click.option("--older-than-days", type=click.IntRange(min=1), default=30, show_default=True)
    def prune_idempotency_keys(older_than_days: int):
        """Forget Idempotency-Keys older than N days; their orders stay."""
        session = db_session()
        result = session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.created_at < utcnow() - timedelta(days=older_than_days)))
        session.commit()
        click.echo(f"orders: pruned {result.rowcount} idempotency keys")
