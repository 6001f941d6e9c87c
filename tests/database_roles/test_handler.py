"""The database-roles function against a real PostgreSQL and moto's Secrets Manager.

The database is made as RDS makes it (rds_like.py). Its tables are made by the services' real
migrations, as the master (a deployment from before service roles) or as each service's role (a new
one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pg8000.native
import psycopg
import pytest

from lambdas.database_roles import handler
from services.kit.config import ServiceConfig
from services.kit.db import upgrade
from stacks.database_roles import service_tables
from tests.conftest import SERVICES_DIR

from .rds_like import (
    RECENT_BINARIES,
    SERVICES,
    SHARED_PORT,
    RdsLikeDatabase,
    RolesFunction,
    as_postgres,
    machine_binaries,
    own_server,
    rds_like_database,
    roles_function,
    write_certificates,
)


@pytest.fixture(scope="module", params=["machine", "postgresql-18"])
def server(request) -> Iterator[int]:
    """The machine's PostgreSQL (15 here), and 18, which has RDS 17's rules for CREATEROLE."""
    if request.param == "machine":
        yield SHARED_PORT
    else:
        with own_server(RECENT_BINARIES) as own:
            yield own.port


@pytest.fixture
def database(server) -> Iterator[RdsLikeDatabase]:
    with rds_like_database(server) as made:
        yield made


@pytest.fixture
def function(database) -> Iterator[RolesFunction]:
    with roles_function(database) as function:
        yield function


def migrate(service: str, url: str) -> None:
    upgrade(SERVICES_DIR / service, ServiceConfig(environment="test", database_url=url))


def owners(database: RdsLikeDatabase) -> dict[str, str]:
    """Every table and sequence of schema public, by owner."""
    with psycopg.connect(database.url("postgres")) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S')"
        ).fetchall()
    return dict(rows)


def owned_by(database: RdsLikeDatabase, owner: str) -> list[str]:
    """What `owner` owns in schema public: relations of every kind, types and functions."""
    with psycopg.connect(database.url("postgres")) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relowner = to_regrole(%(owner)s) "
            "UNION ALL SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = 'public' AND t.typowner = to_regrole(%(owner)s) "
            "UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proowner = to_regrole(%(owner)s)",
            {"owner": owner},
        ).fetchall()
    return sorted(name for (name,) in rows)


def test_tables_the_master_made_are_handed_to_their_services(database, function):
    for service in SERVICES:
        migrate(service, database.url(database.master))
    assert set(owners(database).values()) == {database.master}
    assert "orders_pkey" in owned_by(database, database.master)

    function.run()

    tables = owners(database)
    for service in SERVICES:
        for table in service_tables(service):
            assert tables.pop(table) == database.roles[service], table
    # What is left are the sequences of the identity columns, which follow their tables.
    assert tables, "expected the id sequences"
    for sequence, owner in tables.items():
        table = sequence.removesuffix("_id_seq")
        service = next(s for s in SERVICES if table in service_tables(s))
        assert owner == database.roles[service], sequence
    # Nor is anything else left to the master: indexes, row types and the like went with their tables.
    assert owned_by(database, database.master) == []
    # Tasks still on the master login (mid-deploy) keep their access, through its membership.
    with psycopg.connect(database.url(database.master)) as conn:
        conn.execute("INSERT INTO categories (name, slug, description, search_name, created_at, updated_at) "
                     "VALUES ('Bánh Mới', 'banh-moi', '', 'banh moi', now(), now())")
        assert conn.execute("SELECT count(*) FROM categories").fetchone() == (1,)


def test_every_table_the_migrations_make_belongs_to_one_service(database, function):
    for service in SERVICES:
        migrate(service, database.url(database.master))
    made = {name for name in owners(database) if not name.endswith("_seq")}
    listed = [table for service in SERVICES for table in service_tables(service)]

    assert sorted(listed) == sorted(made)  # each table listed once, none missing


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reaches_its_own_tables_and_no_others(database, function, service):
    for each in SERVICES:
        migrate(each, database.url(database.master))
    function.run()

    with psycopg.connect(database.url(database.roles[service]), autocommit=True) as conn:
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


def test_on_a_new_database_each_service_migrates_as_its_own_role(database, function):
    function.run()
    for service in SERVICES:
        migrate(service, database.url(database.roles[service]))

    tables = owners(database)
    for service in SERVICES:
        assert {tables[table] for table in service_tables(service)} == {database.roles[service]}
    # The master, which operators log in as, still reaches every table.
    with psycopg.connect(database.url(database.master)) as conn:
        for table in (t for service in SERVICES for t in service_tables(service)):
            conn.execute(f'SELECT count(*) FROM "{table}"')


def password_of(database: RdsLikeDatabase, role: str, candidate: str) -> bool:
    """Whether `candidate` is `role`'s password, by its SCRAM-SHA-256 verifier (RFC 5802)."""
    ((verifier,),) = as_postgres("SELECT rolpassword FROM pg_authid WHERE rolname = %s", role,
                                 port=database.port)
    method, iterations_salt, keys = verifier.split("$")
    iterations, salt = iterations_salt.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", candidate.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = base64.b64decode(keys.split(":")[0])
    return method == "SCRAM-SHA-256" and hashlib.sha256(client_key).digest() == stored_key


def test_each_role_logs_in_with_its_secret_and_a_changed_secret_is_applied_again(database, function):
    function.run()
    for service, role in database.roles.items():
        assert password_of(database, role, database.password(service))
    function.put_login("orders", {"username": database.roles["orders"], "password": "rotated"})

    function.run("Update")
    function.run("Update")

    assert password_of(database, database.roles["orders"], "rotated")
    assert password_of(database, database.roles["users"], database.password("users"))


def test_runs_at_the_same_time_take_turns_and_both_succeed(database, function):
    with psycopg.connect(database.url(database.master), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (handler.RUN_LOCK,))
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = [pool.submit(function.run, "Update") for _ in range(2)]
            time.sleep(0.5)  # both are now waiting for the lock the holder keeps
            assert not any(run.done() for run in runs)
            holder.execute("SELECT pg_advisory_unlock(hashtext(%s))", (handler.RUN_LOCK,))
            assert [run.result(timeout=30)["PhysicalResourceId"] for run in runs] == [
                "sweetdream-service-roles"] * 2

    assert as_postgres("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                       list(database.roles.values()), port=database.port) == [(3,)]


def test_delete_leaves_roles_and_tables(database, function):
    migrate("orders", database.url(database.master))
    function.run()

    assert function.run("Delete") == {"PhysicalResourceId": "sweetdream-service-roles"}

    assert owners(database)["orders"] == database.roles["orders"]
    assert as_postgres("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                        list(database.roles.values()), port=database.port) == [(3,)]


def test_a_busy_table_fails_the_run_quickly_and_changes_nothing(database, function, monkeypatch):
    for service in SERVICES:
        migrate(service, database.url(database.master))
    monkeypatch.setattr(handler, "LOCK_TIMEOUT", "1s")

    with psycopg.connect(database.url(database.master)) as busy:
        busy.execute("SELECT count(*) FROM orders")  # holds its lock until the transaction ends
        with pytest.raises(pg8000.native.DatabaseError) as failure:
            function.run()
    assert failure.value.args[0]["C"] == "55P03"  # lock_not_available

    assert set(owners(database).values()) == {database.master}
    assert as_postgres("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                        list(database.roles.values()), port=database.port) == [(0,)]


def another_authority(directory: Path) -> str:
    """The URL of an authority that signed nothing the server shows."""
    write_certificates(directory / "ca.pem", directory / "server.crt", directory / "server.key")
    return (directory / "ca.pem").as_uri()


def test_on_a_server_like_rds_it_logs_in_over_verified_tls_and_the_services_with_their_secrets(tmp_path):
    with own_server(machine_binaries(), like_rds=True) as server, \
            rds_like_database(server.port) as database, roles_function(database) as function:
        function.require_tls(server.ca_file.as_uri())
        function.run()  # the master's SCRAM login, over TLS

        for service, role in database.roles.items():
            login = {"host": "127.0.0.1", "port": server.port, "dbname": database.name, "user": role,
                     "sslmode": "verify-full", "sslrootcert": str(server.ca_file)}
            with psycopg.connect(**login, password=database.password(service)) as conn:
                assert conn.execute("SELECT current_user").fetchone() == (role,)
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(**login, password="wrong")

        function.require_tls(another_authority(tmp_path))  # a server in the middle
        with pytest.raises(ssl.SSLCertVerificationError):
            function.run()

        function.environment["DATABASE_TLS"] = "disable"  # shows the server refuses plain connections
        with pytest.raises(pg8000.native.DatabaseError, match="no encryption"):
            function.run()


def test_the_function_never_falls_back_to_an_unencrypted_connection(database, function, tmp_path):
    function.require_tls(another_authority(tmp_path))  # the test servers have no TLS

    with pytest.raises(pg8000.native.InterfaceError, match="refuses SSL"):
        function.run()


def test_mid_rotation_it_logs_in_with_the_pending_master_password():
    """The rotation sets the new password in PostgreSQL, then makes its version current: a run in
    between finds the current version refused and the pending one right."""
    with own_server(machine_binaries(), like_rds=True) as server, \
            rds_like_database(server.port) as database, roles_function(database) as function:
        function.require_tls(server.ca_file.as_uri())
        master_arn = function.environment["MASTER_SECRET_ARN"]
        right = json.loads(function.secrets.get_secret_value(SecretId=master_arn)["SecretString"])
        function.secrets.put_secret_value(SecretId=master_arn,
                                          SecretString=json.dumps({**right, "password": "rotated-away"}))
        with pytest.raises(pg8000.native.DatabaseError, match="password authentication failed"):
            function.run()  # no rotation under way: a wrong secret stays an error

        function.secrets.put_secret_value(SecretId=master_arn, SecretString=json.dumps(right),
                                          VersionStages=["AWSPENDING"])
        function.run()
        role = database.roles["orders"]
        with psycopg.connect(host="127.0.0.1", port=server.port, dbname=database.name, user=role,
                             password=database.password("orders"), sslmode="verify-full",
                             sslrootcert=str(server.ca_file)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
