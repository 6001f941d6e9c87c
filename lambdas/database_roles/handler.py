"""One PostgreSQL role per service, made at deploy time (a CloudFormation custom resource).

The services used to log in as the RDS master user, so any one of them could read or drop every
other's tables. This function, the master secret's only reader besides RDS and its rotation, gives
each service a role of its own and makes it the owner of that service's tables. No other role is
granted anything on them, so a service can reach only its own.

On Create and Update, in one transaction, for each service the function's settings name:
- the role named by the service's secret, logging in with that secret's password;
- CREATE on schema public, where its migrations make its tables;
- membership of the master in the role, so operators with the master secret still reach every
  table, and the master can hand tables over;
- the service's tables that already exist (made by the master before roles existed) handed over,
  with their sequences and indexes.

Delete changes nothing: the roles own the data, which outlives the stack. Every step is idempotent,
so CloudFormation may repeat any of them.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import urllib.request
from typing import Any

import boto3
import pg8000.native
from pg8000.native import identifier, literal

log = logging.getLogger()
log.setLevel(logging.INFO)

# A migration holding a table's lock makes the hand-over wait this long, then fail the deploy
# (CloudFormation rolls back) instead of hanging it.
LOCK_TIMEOUT = "30s"
# Per socket operation; longer than LOCK_TIMEOUT, so that wait ends in PostgreSQL's own clear error.
SOCKET_TIMEOUT_S = 60
CA_FETCH_TIMEOUT_S = 10
RUN_LOCK = "sweetdream-database-roles"
REFUSED_PASSWORD = "28P01"  # noqa: S105 (an SQLSTATE, invalid_password, not a password)


def on_event(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """The custom resource's handler, and a hand-run's: any event but a Delete applies the settings
    of the function's environment (MASTER_SECRET_ARN, DATABASE, SERVICES)."""
    if event.get("RequestType") != "Delete":
        apply(
            master_secret_arn=os.environ["MASTER_SECRET_ARN"],
            database=os.environ["DATABASE"],
            services=json.loads(os.environ["SERVICES"]),
        )
    return {"PhysicalResourceId": event.get("PhysicalResourceId") or "sweetdream-service-roles"}


def apply(*, master_secret_arn: str, database: str, services: list[dict[str, Any]]) -> None:
    """`services`: [{"Name": "orders", "SecretArn": ..., "Tables": ["orders", ...]}, ...]."""
    secrets = boto3.client("secretsmanager")
    master, connection = _connect_as_master(secrets, master_secret_arn, database)
    try:
        connection.run(f"SET lock_timeout = {literal(LOCK_TIMEOUT)}")
        connection.run("START TRANSACTION")
        # One run at a time (a deploy's and a hand-run): the second waits, then finds the work done.
        connection.run("SELECT pg_advisory_xact_lock(hashtext(:name))", name=RUN_LOCK)
        for service in services:
            login = _secret(secrets, service["SecretArn"])
            _ensure_role(connection, role=login["username"], password=login["password"],
                         master=master["username"], database=database)
            handed = _hand_over_tables(connection, role=login["username"], tables=service["Tables"])
            log.info(json.dumps({"service": service["Name"], "role": login["username"],
                                 "tablesHandedOver": handed}))
        connection.run("COMMIT")
    finally:
        connection.close()


def _secret(client, arn: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    return json.loads(client.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])


def _connect_as_master(secrets, arn: str, database: str) -> tuple[dict[str, Any], pg8000.native.Connection]:
    """The master login as its secret says, or, mid-rotation, as the pending version says: the
    rotation changes the password in PostgreSQL a moment before it makes that version current."""
    master = _secret(secrets, arn)
    try:
        return master, _connect(master, database)
    except pg8000.native.DatabaseError as exc:
        sqlstate = exc.args[0].get("C") if exc.args and isinstance(exc.args[0], dict) else None
        if sqlstate != REFUSED_PASSWORD:
            raise
        try:
            pending = _secret(secrets, arn, stage="AWSPENDING")
        except secrets.exceptions.ResourceNotFoundException:
            raise exc from None  # no rotation under way: the secret is simply wrong
        log.info("the master login's current password was refused; using the rotation's pending one")
        return pending, _connect(pending, database)


def _connect(master: dict[str, Any], database: str) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        user=master["username"],
        password=master["password"],
        host=master["host"],
        port=int(master["port"]),
        database=database,
        ssl_context=_tls_context(),
        timeout=SOCKET_TIMEOUT_S,
        application_name="sweetdream-database-roles",
    )


def _tls_context() -> ssl.SSLContext | bool:
    """TLS or no connection, to a server whose certificate (host name included) an authority from
    DATABASE_CA_URL signed: AWS's RDS bundle, fetched over HTTPS and checked against the runtime's own
    trust store. DATABASE_TLS=disable is for a local PostgreSQL without TLS, in tests."""
    if os.environ.get("DATABASE_TLS") == "disable":
        return False
    # The stack sets an https URL; tests name a file.
    with urllib.request.urlopen(os.environ["DATABASE_CA_URL"], timeout=CA_FETCH_TIMEOUT_S) as response:  # noqa: S310
        context = ssl.create_default_context(cadata=response.read().decode())
    # The same checks as the services' libpq verify-full: chain and host name. Python 3.13 adds
    # OpenSSL's strict X.509 profile, which some authorities' certificates do not meet.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def _ensure_role(connection, *, role: str, password: str, master: str, database: str) -> None:
    exists = connection.run("SELECT 1 FROM pg_roles WHERE rolname = :role", role=role)
    verb = "ALTER" if exists else "CREATE"
    # A role's password cannot be a bind parameter; literal() quotes it.
    connection.run(f"{verb} ROLE {identifier(role)} WITH LOGIN PASSWORD {literal(password)}")
    connection.run(f"GRANT {identifier(role)} TO {identifier(master)}")
    connection.run(f"GRANT CONNECT, TEMPORARY ON DATABASE {identifier(database)} TO {identifier(role)}")
    connection.run(f"GRANT USAGE, CREATE ON SCHEMA public TO {identifier(role)}")


def _hand_over_tables(connection, *, role: str, tables: list[str]) -> list[str]:
    """Gives `role` the listed tables of schema public that someone else owns; returns their names."""
    rows = connection.run(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename = ANY(CAST(:tables AS text[])) AND tableowner <> :role ORDER BY tablename",
        tables=tables,
        role=role,
    )
    handed = [name for (name,) in rows]
    for name in handed:
        # Sequences owned by the table's columns and its indexes change owner with it.
        connection.run(f"ALTER TABLE public.{identifier(name)} OWNER TO {identifier(role)}")
    return handed
