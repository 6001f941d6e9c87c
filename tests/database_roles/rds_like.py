"""A PostgreSQL database as RDS makes it, and the database-roles function run on it under moto.

RDS's master login is no superuser: it has CREATEROLE and owns the database. `rds_like_database`
makes such a master and database on the shared test server (both uniquely named, and dropped with
the service roles afterwards); `roles_function` stores the logins in moto's Secrets Manager and
runs the real handler with them.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

import boto3
import psycopg
from moto import mock_aws

from lambdas.database_roles import handler
from stacks.database_roles import service_tables
from tests.conftest import TEST_DATABASE_URL

SERVICES = ("users", "orders", "catalog")
REGION = "us-east-1"


def as_postgres(sql: str, *params) -> list[tuple]:
    """One statement as the test server's superuser."""
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


@dataclass
class RdsLikeDatabase:
    name: str
    master: str
    roles: dict[str, str]  # service -> the role its secret names

    def url(self, user: str) -> str:
        return f"postgresql://{user}@127.0.0.1:5432/{self.name}"

    def password(self, service: str) -> str:
        return f"{service}-pw-1'x"  # a quote, to show it reaches PostgreSQL quoted


@contextmanager
def rds_like_database() -> Iterator[RdsLikeDatabase]:
    suffix = uuid.uuid4().hex[:10]
    database = RdsLikeDatabase(name=f"sdroles_{suffix}", master=f"sdmaster_{suffix}",
                               roles={service: f"{service}_{suffix}" for service in SERVICES})
    as_postgres(f'CREATE ROLE "{database.master}" LOGIN CREATEROLE')
    try:
        as_postgres(f'CREATE DATABASE "{database.name}" OWNER "{database.master}"')
        yield database
    finally:
        as_postgres(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
        for role in (*database.roles.values(), database.master):
            as_postgres(f'DROP ROLE IF EXISTS "{role}"')


class RolesFunction:
    """The handler with its settings, and the secrets it reads (in moto)."""

    def __init__(self, database: RdsLikeDatabase):
        self.secrets = boto3.client("secretsmanager", region_name=REGION)
        self.arns = {service: self._put(f"{role}-login", {"username": role,
                                                          "password": database.password(service)})
                     for service, role in database.roles.items()}
        master = self._put(f"{database.master}-login", {
            "username": database.master, "password": "unused", "host": "127.0.0.1", "port": 5432,
            "dbname": database.name})
        self.environment = {
            "MASTER_SECRET_ARN": master,
            "DATABASE": database.name,
            "SERVICES": json.dumps([{"Name": s, "SecretArn": self.arns[s], "Tables": service_tables(s)}
                                    for s in SERVICES]),
            "DATABASE_TLS": "disable",  # the test server has no TLS; RDS requires it
        }

    def _put(self, name: str, value: dict) -> str:
        return self.secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]

    def run(self, request_type: str = "Create") -> dict:
        with mock.patch.dict(os.environ, self.environment):
            return handler.on_event({"RequestType": request_type, "ResourceProperties": {}})

    def put_login(self, service: str, login: dict) -> None:
        self.secrets.put_secret_value(SecretId=self.arns[service], SecretString=json.dumps(login))


@contextmanager
def roles_function(database: RdsLikeDatabase) -> Iterator[RolesFunction]:
    with mock_aws(), mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}):
        yield RolesFunction(database)
