"""The database-roles function against a real PostgreSQL and moto's Secrets Manager.

The master here is what RDS makes: no superuser, CREATEROLE, owner of the database. Its services'
tables are made by the services' real migrations, as the master (a deployment from before service
roles) or as each service's role (a new one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pg8000.native
import psycopg
import pytest
from moto import mock_aws

from lambdas.database_roles import handler
from services.kit.config import ServiceConfig
from services.kit.db import upgrade
from stacks.database_roles import service_tables
from tests.conftest import SERVICES_DIR, TEST_DATABASE_URL

SERVICES = ("users", "orders", "catalog")
REGION = "us-east-1"


@dataclass
class Cluster:
    """One test's database, its master and the logins the secrets hold."""

    database: str
    master: str
    roles: dict[str, str]  # service -> role name
    secrets: dict[str, str]  # service or "master" -> secret ARN

    def url(self, user: str) -> str:
        return f"postgresql://{user}@127.0.0.1:5432/{self.database}"


def _as_postgres(sql: str, *params) -> list[tuple]:
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def cluster(monkeypatch) -> Iterator[Cluster]:
    suffix = uuid.uuid4().hex[:10]
    master, database = f"sdmaster_{suffix}", f"sdroles_{suffix}"
    roles = {service: f"{service}_{suffix}" for service in SERVICES}
    _as_postgres(f'CREATE ROLE "{master}" LOGIN CREATEROLE')
    _as_postgres(f'CREATE DATABASE "{database}" OWNER "{master}"')
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("DATABASE_TLS", "disable")  # the test server has no TLS; RDS requires it
    try:
        with mock_aws():
            client = boto3.client("secretsmanager", region_name=REGION)

            def put(name: str, value: dict) -> str:
                return client.create_secret(Name=f"{name}-{suffix}", SecretString=json.dumps(value))["ARN"]

            secrets = {"master": put("master", {"username": master, "password": "unused",
                                                "host": "127.0.0.1", "port": 5432, "dbname": database})}
            for service, role in roles.items():
                secrets[service] = put(service, {"username": role, "password": f"{service}-pw-1'x"})
            cluster = Cluster(database=database, master=master, roles=roles, secrets=secrets)
            monkeypatch.setenv("MASTER_SECRET_ARN", secrets["master"])
            monkeypatch.setenv("DATABASE", database)
            monkeypatch.setenv("SERVICES", json.dumps([
                {"Name": s, "SecretArn": secrets[s], "Tables": service_tables(s)} for s in SERVICES
            ]))
            yield cluster
    finally:
        _as_postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in (*roles.values(), master):
            _as_postgres(f'DROP ROLE IF EXISTS "{role}"')


def migrate(service: str, url: str) -> None:
    upgrade(SERVICES_DIR / service, ServiceConfig(environment="test", database_url=url))


def owners(cluster: Cluster) -> dict[str, str]:
    """Every table and sequence of schema public, by owner."""
    with psycopg.connect(cluster.url("postgres")) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S')"
        ).fetchall()
    return dict(rows)


def run(request_type: str = "Create") -> dict:
    return handler.on_event({"RequestType": request_type, "ResourceProperties": {}})


def test_tables_the_master_made_are_handed_to_their_services(cluster):
    for service in SERVICES:
        migrate(service, cluster.url(cluster.master))
    assert set(owners(cluster).values()) == {cluster.master}

    run()

    tables = owners(cluster)
    for service in SERVICES:
        for table in service_tables(service):
            assert tables.pop(table) == cluster.roles[service], table
    # What is left are the sequences of the identity columns, which follow their tables.
    assert tables, "expected the id sequences"
    for sequence, owner in tables.items():
        table = sequence.removesuffix("_id_seq")
        service = next(s for s in SERVICES if table in service_tables(s))
        assert owner == cluster.roles[service], sequence


def test_every_table_the_migrations_make_belongs_to_one_service(cluster):
    for service in SERVICES:
        migrate(service, cluster.url(cluster.master))
    made = {name for name in owners(cluster) if not name.endswith("_seq")}
    listed = [table for service in SERVICES for table in service_tables(service)]

    assert sorted(listed) == sorted(made)  # each table listed once, none missing


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reaches_its_own_tables_and_no_others(cluster, service):
    for each in SERVICES:
        migrate(each, cluster.url(cluster.master))
    run()

    with psycopg.connect(cluster.url(cluster.roles[service]), autocommit=True) as conn:
        for table in service_tables(service):
            conn.execute(f'SELECT count(*) FROM "{table}"')
        for other in SERVICES:
            if other == service:
                continue
            for table in service_tables(other):
                for statement in (f'SELECT * FROM "{table}"', f'DELETE FROM "{table}"',
                                  f'DROP TABLE "{table}"'):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(statement)


def test_on_a_new_database_each_service_migrates_as_its_own_role(cluster):
    run()
    for service in SERVICES:
        migrate(service, cluster.url(cluster.roles[service]))

    tables = owners(cluster)
    for service in SERVICES:
        assert {tables[table] for table in service_tables(service)} == {cluster.roles[service]}
    # The master, which operators log in as, still reaches every table.
    with psycopg.connect(cluster.url(cluster.master)) as conn:
        for table in (t for service in SERVICES for t in service_tables(service)):
            conn.execute(f'SELECT count(*) FROM "{table}"')


def password_of(role: str, candidate: str) -> bool:
    """Whether `candidate` is `role`'s password, by its SCRAM-SHA-256 verifier (RFC 5802)."""
    ((verifier,),) = _as_postgres("SELECT rolpassword FROM pg_authid WHERE rolname = %s", role)
    method, iterations_salt, keys = verifier.split("$")
    iterations, salt = iterations_salt.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", candidate.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = base64.b64decode(keys.split(":")[0])
    return method == "SCRAM-SHA-256" and hashlib.sha256(client_key).digest() == stored_key


def test_each_role_logs_in_with_its_secret_and_a_changed_secret_is_applied_again(cluster):
    run()
    for service, role in cluster.roles.items():
        assert password_of(role, f"{service}-pw-1'x")
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=cluster.secrets["orders"],
        SecretString=json.dumps({"username": cluster.roles["orders"], "password": "rotated"}),
    )

    run("Update")
    run("Update")

    assert password_of(cluster.roles["orders"], "rotated")
    assert password_of(cluster.roles["users"], "users-pw-1'x")


def test_delete_leaves_roles_and_tables(cluster):
    migrate("orders", cluster.url(cluster.master))
    run()

    assert run("Delete") == {"PhysicalResourceId": "sweetdream-service-roles"}

    assert owners(cluster)["orders"] == cluster.roles["orders"]
    assert _as_postgres("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                        list(cluster.roles.values())) == [(3,)]


def test_a_busy_table_fails_the_run_quickly_and_changes_nothing(cluster, monkeypatch):
    for service in SERVICES:
        migrate(service, cluster.url(cluster.master))
    monkeypatch.setattr(handler, "LOCK_TIMEOUT", "1s")

    with psycopg.connect(cluster.url(cluster.master)) as busy:
        busy.execute("SELECT count(*) FROM orders")  # holds its lock until the transaction ends
        with pytest.raises(pg8000.native.DatabaseError) as failure:
            run()
    assert failure.value.args[0]["C"] == "55P03"  # lock_not_available

    assert set(owners(cluster).values()) == {cluster.master}
    assert _as_postgres("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                        list(cluster.roles.values())) == [(0,)]
