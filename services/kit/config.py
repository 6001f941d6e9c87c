"""Service configuration, read from the environment (and nowhere else)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

from .threads import request_threads

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".data"
LOCAL_SECRET = "local-dev-secret-change-me"  # noqa: S105 (refused outside local, see below)


class ServiceConfig(BaseSettings):
    """Settings every service shares. Subclass per service; tests pass overrides as kwargs."""

    # hide_input_in_errors: a refused DATABASE_URL must not print its password.
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    service_name: str = "service"
    environment: Literal["local", "test", "dev", "prod"] = "local"
    data_dir: Path = DEFAULT_DATA_DIR
    # Empty means the embedded default: one SQLite file per service under data_dir.
    database_url: str = ""
    # Alternatively the URL's parts, as ECS injects them one by one from the RDS secret's fields.
    db_host: str = ""
    db_port: int = Field(default=5432, ge=1, le=65535)
    db_name: str = ""
    db_user: str = ""
    db_password: str = ""
    # On AWS: verify-full against AWS's RDS authorities, which the image holds (Dockerfile), so a
    # server in the middle cannot pose as the database. Empty leaves libpq's default (prefer).
    db_sslmode: Literal["", "disable", "prefer", "require", "verify-ca", "verify-full"] = ""
    db_sslrootcert: str = ""
    secret_key: str = LOCAL_SECRET
    max_content_length: int = 1024 * 1024

    jwt_issuer: str = "sweetdream-users"
    jwt_audience: str = "sweetdream"
    # Verification key: a PEM string, a PEM file, or the users service's JWKS URL (first one set wins).
    jwt_public_key: str = ""
    jwt_public_key_file: str = ""
    jwks_url: str = ""
    jwks_cache_seconds: int = 300
    # Every verifier honours an ADMIN token for at most this long after its `iat`, so a demoted
    # admin loses admin rights everywhere within this bound; users issues admin tokens this short.
    admin_token_ttl_seconds: int = Field(default=3600, ge=60, le=24 * 3600)

    # Where events go besides stdout; empty disables the local file (on AWS, stdout is enough).
    event_log_file: str = ""
    log_level: str = "INFO"
    # One connection per request thread, kept open (no overflow): a pool smaller than the threads
    # opened and closed a connection per request under load (README "Benchmarks").
    db_pool_size: int = Field(default_factory=request_threads, ge=1)
    db_connect_timeout: int = Field(default=2, ge=1)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)

    @property
    def is_deployed(self) -> bool:
        return self.environment in ("dev", "prod")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            # Normalise the scheme so psycopg 3 is used whatever form the secret takes.
            for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
                if self.database_url.startswith(prefix):
                    return "postgresql+psycopg://" + self.database_url[len(prefix):]
            return self.database_url
        if self.db_host:
            # URL.create escapes the generated password, which may contain URL metacharacters.
            tls = {"sslmode": self.db_sslmode, "sslrootcert": self.db_sslrootcert}
            return URL.create("postgresql+psycopg", username=self.db_user or None,
                              password=self.db_password or None, host=self.db_host, port=self.db_port,
                              database=self.db_name or None,
                              query={name: value for name, value in tls.items() if value},
                              ).render_as_string(hide_password=False)
        return f"sqlite:///{self.data_dir / (self.service_name + '.db')}"

    @model_validator(mode="after")
    def _refuse_local_defaults_when_deployed(self) -> ServiceConfig:
        if self.is_deployed:
            if self.secret_key == LOCAL_SECRET:
                raise ValueError("SECRET_KEY must be set outside local development")
            if not self.database_url and not self.db_host:
                raise ValueError("DATABASE_URL (or DB_HOST, DB_USER, ...) must be set outside local "
                                 "development")
        return self
