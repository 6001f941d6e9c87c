"""Admin commands (they replace the original's PowerShell scripts).

    flask --app services.users ensure-admin      # idempotent, from ADMIN_EMAIL and ADMIN_PASSWORD
    flask --app services.users create-admin --email a@b.c --name "Shop Admin"   # prompts for a password
    flask --app services.users set-role --email a@b.c --role ADMIN
"""

from __future__ import annotations

import click
from flask import Flask
from pydantic import TypeAdapter, ValidationError

from services.kit.app import current_config
from services.kit.db import db_session
from services.kit.errors import APIError

from . import accounts
from .models import Role
from .passwords import check_password_policy, hash_password
from .schemas import Name, normalise_email


def _email(_ctx, _param, value: str) -> str:
    try:
        return normalise_email(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _name(_ctx, _param, value: str) -> str:
    try:
        return TypeAdapter(Name).validate_python(value.strip())
    except ValidationError as exc:
        raise click.BadParameter(exc.errors(include_input=False)[0]["msg"]) from exc


def _password(_ctx, _param, value: str) -> str:
    try:
        return check_password_policy(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def register_commands(app: Flask) -> None:
    @app.cli.command("ensure-admin")
    def ensure_admin():
        """Create the bootstrap admin from ADMIN_EMAIL / ADMIN_PASSWORD if it does not exist."""
        config = current_config()
        session = db_session()
        existing = accounts.find_by_email(session, config.admin_email)
        if existing is None:
            try:
                accounts.create_customer(
                    session, email=config.admin_email, name=config.admin_name, role=Role.ADMIN,
                    password_hash=hash_password(config.admin_password.get_secret_value(),
                                                config.bcrypt_rounds))
            except APIError:  # another process created it a moment ago
                click.echo(f"admin {config.admin_email} already exists")
                return
            session.commit()
            click.echo(f"admin {config.admin_email} created")
        elif existing.is_admin:
            click.echo(f"admin {config.admin_email} already exists")
        else:
            # Never promote it: whoever registered this address first may not be the shop.
            click.echo(f"warning: {config.admin_email} is registered as a {existing.role}; not "
                       "promoting it. Check who owns it, then use set-role.", err=True)

    @app.cli.command("create-admin")
    @click.option("--email", required=True, callback=_email, help="The new admin's e-mail.")
    @click.option("--name", required=True, callback=_name, help="The new admin's name.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  callback=_password, help="Prompted for when not given.")
    def create_admin(email: str, name: str, password: str):
        """Create a new admin account."""
        session = db_session()
        if accounts.find_by_email(session, email) is not None:
            raise click.ClickException(f"{email} already has an account; use set-role to promote it")
        try:
            accounts.create_customer(session, email=email, name=name, role=Role.ADMIN,
                                     password_hash=hash_password(password, current_config().bcrypt_rounds))
        except APIError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
        click.echo(f"admin {email} created")

    @app.cli.command("set-role")
    @click.option("--email", required=True, callback=_email, help="The account's e-mail.")
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    def set_role(email: str, role: str):
        """Set the role of the account with this e-mail (the last admin stays an admin).

        Tokens already issued keep their role: a demoted admin's stop working within
        ADMIN_TOKEN_TTL_SECONDS; a promotion applies from the account's next sign-in.
        """
        session = db_session()
        try:
            customer = accounts.get_by_email(session, email)
            was_admin = customer.is_admin
            accounts.set_role(session, customer, Role(role), by=None)
        except APIError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
        click.echo(f"{customer.email} is now {customer.role}")
        if was_admin and not customer.is_admin:
            minutes = current_config().admin_token_ttl_seconds // 60
            click.echo(f"admin tokens already issued to it stop working within {minutes} min")
        elif customer.is_admin and not was_admin:
            click.echo("the new role applies from its next sign-in")
