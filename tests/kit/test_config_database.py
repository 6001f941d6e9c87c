"""ServiceConfig builds the database URL from the parts ECS injects from the RDS secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from services.kit.config import ServiceConfig


def test_url_from_parts_escapes_the_password():
    config = ServiceConfig(db_host="db.internal", db_port=5433, db_name="sweetdream", db_user="shop",
                           db_password="p@ss:/w?rd#%")
    url = make_url(config.sqlalchemy_url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == ("db.internal", 5433, "sweetdream", "shop")
    assert url.password == "p@ss:/w?rd#%"


def test_database_url_wins_over_parts():
    config = ServiceConfig(database_url="postgresql://a@b/c", db_host="ignored")
    assert config.sqlalchemy_url == "postgresql+psycopg://a@b/c"


def test_parts_come_from_the_environment(monkeypatch):
    for name, value in {"DB_HOST": "rds.example", "DB_PORT": "5432", "DB_NAME": "sweetdream",
                        "DB_USER": "sweetdream", "DB_PASSWORD": "s3cret"}.items():
        monkeypatch.setenv(name, value)
    url = make_url(ServiceConfig().sqlalchemy_url)
    assert (url.host, url.username, url.password) == ("rds.example", "sweetdream", "s3cret")


def test_without_url_or_parts_the_local_sqlite_default(tmp_path):
    config = ServiceConfig(service_name="sample", data_dir=tmp_path)
    assert config.sqlalchemy_url == f"sqlite:///{tmp_path / 'sample.db'}"


@pytest.mark.parametrize("bad_port", [0, 70000])
def test_port_out_of_range_is_refused(bad_port):
    with pytest.raises(ValidationError):
        ServiceConfig(db_host="h", db_port=bad_port)


def test_deployed_service_needs_a_database_url_or_parts():
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        ServiceConfig(environment="prod", secret_key="x" * 40)
    assert ServiceConfig(environment="prod", secret_key="x" * 40, db_host="rds").is_deployed


def test_tls_settings_reach_the_url_and_an_unknown_mode_is_refused():
    config = ServiceConfig(db_host="rds.example", db_sslmode="verify-full",
                           db_sslrootcert="/etc/ssl/certs/rds-global-bundle.pem")
    assert make_url(config.sqlalchemy_url).query == {
        "sslmode": "verify-full", "sslrootcert": "/etc/ssl/certs/rds-global-bundle.pem"}
    assert make_url(ServiceConfig(db_host="rds.example").sqlalchemy_url).query == {}
    with pytest.raises(ValidationError):
        ServiceConfig(db_host="rds.example", db_sslmode="verify-everything")
