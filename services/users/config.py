"""Users settings, read from the environment."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Annotated, Any

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.kit.config import ServiceConfig
from services.kit.proxies import PRIVATE_NETWORKS, Network

from .passwords import check_password_policy
from .schemas import normalise_email

LOCAL_ADMIN_EMAIL = "admin@sweetdream.com"
LOCAL_ADMIN_PASSWORD = "admin123"  # noqa: S105 (local only; refused in dev/prod, see below)


class UsersConfig(ServiceConfig):
    # A refused setting must not print the settings (database URL, admin password) into the log.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: str = "users"

    # Signing key: an AWS KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY) when set,
    # otherwise a local PEM generated on first run under data_dir.
    kms_key_id: str = ""
    aws_region: str = ""
    token_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)

    bcrypt_rounds: int = Field(default=12, ge=4, le=16)

    # The admin `ensure-admin` creates when absent (on AWS the password is a Secrets Manager secret).
    admin_email: str = LOCAL_ADMIN_EMAIL
    admin_password: SecretStr = SecretStr(LOCAL_ADMIN_PASSWORD)
    admin_name: str = "SweetDream Admin"

    # Throttling (Flask-Limiter syntax). Failed logins count per e-mail (failed password changes per
    # account, with the same limit); every login and registration counts per client address.
    # database:// counts in the service's own database, shared by every worker and task; memory://
    # counts per process.
    ratelimit_storage_uri: str = "database://"
    login_limit_per_email: str = "5 per minute;20 per hour"
    login_limit_per_address: str = "30 per minute;300 per hour"
    register_limit_per_address: str = "10 per minute;50 per hour"
    # Where our own proxies sit (the ALB, the storefront, the local gateway), as comma-separated
    # CIDRs: the client is the rightmost X-Forwarded-For address outside them. Empty: the socket's.
    trusted_proxy_networks: Annotated[tuple[Network, ...], NoDecode] = PRIVATE_NETWORKS

    @field_validator("trusted_proxy_networks", mode="before")
    @classmethod
    def _comma_separated_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [cidr.strip() for cidr in value.split(",") if cidr.strip()]
        if isinstance(value, list | tuple):
            networks = []
            for cidr in value:
                try:
                    networks.append(ip_network(cidr))
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"not a CIDR network (host bits must be zero): {cidr!r}") from exc
            return tuple(networks)
        return value

    @field_validator("login_limit_per_email", "login_limit_per_address", "register_limit_per_address")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit: {value!r}") from exc
        return value

    @field_validator("admin_email")
    @classmethod
    def _normalised_admin_email(cls, value: str) -> str:
        return normalise_email(value)

    @model_validator(mode="after")
    def _refuse_local_admin_and_key_when_deployed(self) -> UsersConfig:
        password = self.admin_password.get_secret_value()
        check_password_policy(password)
        if self.is_deployed:
            if password == LOCAL_ADMIN_PASSWORD:
                raise ValueError("ADMIN_PASSWORD must be set (from Secrets Manager) outside local "
                                 "development, and never to the local default")
            if not self.kms_key_id:
                raise ValueError("KMS_KEY_ID must be set outside local development: every task must "
                                 "sign with the same key")
        return self
