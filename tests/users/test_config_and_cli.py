"""Refusing unsafe settings in dev/prod, and the admin commands (ensure-admin, create-admin, set-role)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from pydantic import ValidationError

from services.users.config import UsersConfig
from tests.users.conftest import PASSWORD, bearer

DEPLOYED = {"secret_key": "s3cret-from-secrets-manager",
            "database_url": "postgresql://app:db-password-123@db.internal/sweetdream",
            "kms_key_id": "arn:aws:kms:us-west-2:111122223333:key/abc"}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_deployed_service_refuses_the_local_admin_password(environment, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD"):  # missing: the default is refused
        UsersConfig(environment=environment, **DEPLOYED)
    with pytest.raises(ValidationError, match="ADMIN_PASSWORD"):
        UsersConfig(environment=environment, admin_password="admin123", **DEPLOYED)
    config = UsersConfig(environment=environment, admin_password="a-long-generated-secret", **DEPLOYED)
    assert config.admin_password.get_secret_value() == "a-long-generated-secret"
    assert "a-long-generated-secret" not in repr(config)


def test_deployed_service_refuses_to_run_without_kms():
    settings = {k: v for k, v in DEPLOYED.items() if k != "kms_key_id"}
    with pytest.raises(ValidationError, match="KMS_KEY_ID"):
        UsersConfig(environment="prod", admin_password="a-long-generated-secret", **settings)


def test_refusals_never_print_the_settings():
    with pytest.raises(ValidationError) as refused:
        UsersConfig(environment="prod", admin_password="short", **DEPLOYED)
    message = str(refused.value)
    assert "at least 8 characters" in message
    for secret in ("short", "db-password-123", "s3cret-from-secrets-manager"):
        assert secret not in message


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ADMIN_EMAIL", "Owner@SweetDream.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "from-the-environment")
    monkeypatch.setenv("BCRYPT_ROUNDS", "10")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setenv("TRUSTED_PROXY_NETWORKS", " 10.0.0.0/16, 52.95.110.1 ,fd00::/8")
    monkeypatch.setenv("KMS_KEY_ID", "alias/sweetdream")
    config = UsersConfig()
    assert config.admin_email == "owner@sweetdream.com"
    assert config.admin_password.get_secret_value() == "from-the-environment"
    assert (config.bcrypt_rounds, config.kms_key_id) == (10, "alias/sweetdream")
    assert config.trusted_proxy_networks == (
        ip_network("10.0.0.0/16"), ip_network("52.95.110.1/32"), ip_network("fd00::/8"))


def test_by_default_loopback_and_the_private_ranges_are_trusted_proxies(monkeypatch):
    monkeypatch.delenv("TRUSTED_PROXY_NETWORKS", raising=False)
    assert {str(network) for network in UsersConfig().trusted_proxy_networks} == {
        "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}


@pytest.mark.parametrize("setting", [{"bcrypt_rounds": 3}, {"bcrypt_rounds": 20},
                                     {"login_limit_per_email": "lots"},
                                     {"trusted_proxy_networks": "10.0.0.1/8"},
                                     {"trusted_proxy_networks": "10.0.0.0/8,not-a-network"},
                                     {"admin_email": "not an email"}, {"token_ttl_seconds": 1},
                                     {"admin_token_ttl_seconds": 1},
                                     {"admin_token_ttl_seconds": 2 * 24 * 3600}])
def test_nonsense_settings_are_refused(setting):
    with pytest.raises(ValidationError):
        UsersConfig(**setting)


# -- CLI -------------------------------------------------------------------------------------------

def test_ensure_admin_creates_the_local_admin_once(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["ensure-admin"])
    assert first.exit_code == 0 and "admin admin@sweetdream.com created" in first.output
    again = runner.invoke(args=["ensure-admin"])
    assert again.exit_code == 0 and "already exists" in again.output
    client = app.test_client()
    response = client.post("/api/auth/login", json={"email": "admin@sweetdream.com", "password": "admin123"})
    assert response.status_code == 200 and response.get_json()["user"]["role"] == "ADMIN"
    listing = client.get("/api/customers", headers=bearer(response.get_json()["token"])).get_json()
    assert listing["total"] == 1


def test_ensure_admin_uses_the_configured_account(make_app):
    app = make_app(admin_email="owner@example.com", admin_password="configured-secret")
    result = app.test_cli_runner().invoke(args=["ensure-admin"])
    assert result.exit_code == 0 and "configured-secret" not in result.output
    response = app.test_client().post("/api/auth/login",
                                      json={"email": "owner@example.com", "password": "configured-secret"})
    assert response.get_json()["user"]["role"] == "ADMIN"


def test_ensure_admin_never_promotes_someone_who_registered_the_address(make_app):
    app = make_app()
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "admin@sweetdream.com", "password": PASSWORD,
                                            "name": "Squatter"})
    result = app.test_cli_runner().invoke(args=["ensure-admin"])
    assert result.exit_code == 0 and "not promoting" in result.output
    response = client.post("/api/auth/login", json={"email": "admin@sweetdream.com", "password": PASSWORD})
    assert response.get_json()["user"]["role"] == "CUSTOMER"


def test_create_admin_then_set_role(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    created = runner.invoke(args=["create-admin", "--email", "Chef@Example.com", "--name", "Chef"],
                            input="kitchen-secret\nkitchen-secret\n")
    assert created.exit_code == 0, created.output
    assert "admin chef@example.com created" in created.output and "kitchen-secret" not in created.output
    client = app.test_client()
    login = client.post("/api/auth/login", json={"email": "chef@example.com", "password": "kitchen-secret"})
    assert login.get_json()["user"]["role"] == "ADMIN"

    duplicate = runner.invoke(args=["create-admin", "--email", "chef@example.com", "--name", "Chef",
                                    "--password", "kitchen-secret"])
    assert duplicate.exit_code == 1 and "already has an account" in duplicate.output

    last = runner.invoke(args=["set-role", "--email", "chef@example.com", "--role", "CUSTOMER"])
    assert last.exit_code == 1 and "last admin" in last.output

    client.post("/api/auth/register",
                json={"email": "sous@example.com", "password": PASSWORD, "name": "Sous"})
    promoted = runner.invoke(args=["set-role", "--email", "SOUS@example.com", "--role", "ADMIN"])
    assert promoted.exit_code == 0 and "sous@example.com is now ADMIN" in promoted.output
    assert "applies from its next sign-in" in promoted.output
    demoted = runner.invoke(args=["set-role", "--email", "chef@example.com", "--role", "CUSTOMER"])
    assert demoted.exit_code == 0, demoted.output
    assert "admin tokens already issued to it stop working within 60 min" in demoted.output


@pytest.mark.parametrize(("args", "complaint"), [
    (["create-admin", "--email", "nope", "--name", "X", "--password", "long-enough"], "email"),
    (["create-admin", "--email", "a@example.com", "--name", "X", "--password", "short"], "8 characters"),
    (["create-admin", "--email", "a@example.com", "--name", "", "--password", "long-enough"], "name"),
    (["set-role", "--email", "ghost@example.com", "--role", "ADMIN"], "No customer"),
    (["set-role", "--email", "a@example.com", "--role", "ROOT"], "ROOT"),
])
def test_cli_mistakes_are_reported_not_raised(make_app, args, complaint):
    result = make_app().test_cli_runner().invoke(args=args)
    assert result.exit_code in (1, 2)  # click's error exits, not a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert complaint.lower() in result.output.lower(), result.output


# -- health and OpenAPI ---------------------------------------------------------------------------

def test_health_and_openapi(client):
    assert client.get("/health").get_json() == {"status": "ok", "service": "users"}
    document = client.get("/openapi.json").get_json()
    assert {"/api/auth/register", "/api/auth/login", "/api/auth/verify", "/api/customers",
            "/api/customers/{customer_id}", "/api/customers/{customer_id}/role",
            "/api/customers/{customer_id}/password",
            "/api/customers/email/{email}/role", "/.well-known/jwks.json"} <= set(document["paths"])
    login = document["paths"]["/api/auth/login"]["post"]
    assert {"200", "401", "422", "429"} <= set(login["responses"])


def test_migrations_match_the_models(users_database):
    from sqlalchemy import create_engine

    from services.users.models import Base
    from tests.conftest import migration_drift

    engine = create_engine(UsersConfig(database_url=users_database).sqlalchemy_url)
    assert migration_drift(engine, Base.metadata, "users") == []
    engine.dispose()


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_the_search_name_migration_folds_the_names_already_there(dialect, tmp_path):
    """Accounts made before migration 0003 are found without accents too."""
    from sqlalchemy import text

    from tests.conftest import migrated_to

    with migrated_to("users", "0002", dialect, tmp_path) as (engine, upgrade):
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO customers (email, password_hash, name, role, created_at, updated_at)"
                " VALUES ('lan@example.com', 'x', 'Nguyễn Thị Lan', 'CUSTOMER', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"))
        upgrade()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT search_name FROM customers")).scalar_one() == "nguyen thi lan"
