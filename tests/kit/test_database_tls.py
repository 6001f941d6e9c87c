"""Services verify the database's certificate when told to (verify-full on AWS), migrations included:
against a server like RDS (TLS only, SCRAM passwords), with its own role from the roles function."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.kit.config import ServiceConfig
from services.kit.db import make_engine, upgrade
from tests.conftest import SERVICES_DIR
from tests.database_roles.rds_like import (
    SERVER_NAME,
    RdsLikeDatabase,
    machine_binaries,
    own_server,
    rds_like_database,
    roles_function,
    write_certificates,
)


@pytest.fixture(scope="module")
def server_like_rds() -> Iterator[tuple[RdsLikeDatabase, Path]]:
    with own_server(machine_binaries(), like_rds=True) as server, \
            rds_like_database(server.port) as database, roles_function(database) as function:
        function.require_tls(server.ca_file.as_uri())
        function.run()
        yield database, server.ca_file


def orders_config(database: RdsLikeDatabase, ca_file: Path, **overrides) -> ServiceConfig:
    settings = {"environment": "test", "service_name": "orders", "db_host": "127.0.0.1",
                "db_port": database.port, "db_name": database.name, "db_user": database.roles["orders"],
                "db_password": database.password("orders"), "db_sslmode": "verify-full",
                "db_sslrootcert": str(ca_file)}
    return ServiceConfig(**{**settings, **overrides})


def test_a_service_migrates_and_serves_over_verified_tls(server_like_rds):
    database, ca_file = server_like_rds
    config = orders_config(database, ca_file)

    upgrade(SERVICES_DIR / "orders", config)

    engine = make_engine(config)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar()
            assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 0
    finally:
        engine.dispose()


def test_a_server_with_another_authoritys_certificate_is_refused(server_like_rds, tmp_path):
    database, _ = server_like_rds
    write_certificates(tmp_path / "ca.pem", tmp_path / "server.crt", tmp_path / "server.key")
    engine = make_engine(orders_config(database, tmp_path / "ca.pem"))
    try:
        with pytest.raises(OperationalError, match="certificate verify failed"), engine.connect():
            pass
    finally:
        engine.dispose()
    with pytest.raises(OperationalError, match="certificate verify failed"):
        upgrade(SERVICES_DIR / "orders", orders_config(database, tmp_path / "ca.pem"))


def test_through_a_port_forward_psql_verifies_the_endpoints_name(server_like_rds):
    """README, "Reach the database (dev)": libpq connects to `hostaddr` (the forwarded port) and
    checks the certificate against `host` (the endpoint), so verify-full works through the bastion."""
    database, ca_file = server_like_rds

    def psql(host: str) -> psycopg.Connection:
        return psycopg.connect(
            host=host, hostaddr="127.0.0.1", port=database.port, dbname=database.name,
            user=database.roles["orders"], password=database.password("orders"),
            sslmode="verify-full", sslrootcert=str(ca_file), connect_timeout=5)

    with psql(SERVER_NAME) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psql("another.sweetdream.test")
