"""Each task definition gives its service exactly what the service's config demands on AWS.

The plain variables come from the synthesized template; each ECS secret gets a stand-in value (ECS
fills in the real one from Secrets Manager at task start). The service's own config class then
validates them with ENVIRONMENT=dev/prod, where it refuses local defaults.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from sqlalchemy.engine import make_url

from services.kit.config import ServiceConfig
from services.kit.proxies import PRIVATE_NETWORKS
from services.kit.threads import request_threads
from services.manifest import SERVICES
from services.users.ratelimit import LIMITER_POOL_SIZE
from stacks.config import DEV, with_context
from stacks.container_image import has_database
from stacks.shop import add_environment

from .conftest import ACCOUNT, cdk_json_context
from .helpers import properties

SECRET_STAND_INS = {
    "SECRET_KEY": "k" * 64,
    "ADMIN_PASSWORD": "GeneratedAdminPassword24",
    "DB_HOST": "sweetdream-dev.abc123.us-east-1.rds.amazonaws.com",
    "DB_PORT": "5432",
    "DB_NAME": "sweetdream",
    "DB_USER": "sweetdream",
    "DB_PASSWORD": "generated/password:with@symbols",
}
NAT_ADDRESS = "203.0.113.17"
# Values CloudFormation resolves at deploy time (references to other resources).
DEPLOY_TIME_STAND_INS = {
    "KMS_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "API_BASE_URL": "http://sweetdream-alb-123.us-east-1.elb.amazonaws.com",
    "JWKS_URL": "http://sweetdream-alb-123.us-east-1.elb.amazonaws.com/.well-known/jwks.json",
    "ANALYTICS_BUCKET": "sweetdream-dev-analytics-123456789012",
    "TRUSTED_PROXY_NETWORKS": ",".join([*(str(cidr) for cidr in PRIVATE_NETWORKS), f"{NAT_ADDRESS}/32"]),
}


def config_class(service: str) -> type[ServiceConfig]:
    module = importlib.import_module(f"services.{service}.config")
    (cls,) = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, ServiceConfig) and obj is not ServiceConfig and obj.__module__ == module.__name__
    ]
    return cls


def task_variables(template, service: str) -> dict[str, str]:
    for definition in properties(template, "AWS::ECS::TaskDefinition"):
        for container in definition["ContainerDefinitions"]:
            if container["Name"] == service:
                variables = {}
                for item in container.get("Environment", []):
                    value = item["Value"]
                    variables[item["Name"]] = (
                        value if isinstance(value, str) else DEPLOY_TIME_STAND_INS[item["Name"]]
                    )
                for item in container.get("Secrets", []):
                    variables[item["Name"]] = SECRET_STAND_INS[item["Name"]]
                return variables
    raise AssertionError(service)


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
def test_task_settings_satisfy_the_service_config(templates, config, service, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("DB_", "DATABASE_URL", "JWT_", "JWKS_", "KMS_", "ADMIN_", "SECRET_KEY")):
            monkeypatch.delenv(name, raising=False)
    variables = task_variables(templates[config.name, "Services"], service)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    settings = config_class(service)()  # reads the environment, as in the container

    assert settings.environment == config.name and settings.is_deployed
    assert settings.secret_key == SECRET_STAND_INS["SECRET_KEY"]
    if has_database(next(spec for spec in SERVICES if spec.name == service)):
        url = make_url(settings.sqlalchemy_url)
        assert (url.drivername, url.host, url.password) == (
            "postgresql+psycopg",
            SECRET_STAND_INS["DB_HOST"],
            SECRET_STAND_INS["DB_PASSWORD"],
        )
    if service != "users":
        assert settings.jwks_url.endswith("/.well-known/jwks.json")
    else:
        assert [str(cidr) for cidr in settings.trusted_proxy_networks] == [
            *(str(cidr) for cidr in PRIVATE_NETWORKS),
            f"{NAT_ADDRESS}/32",
        ]


def test_task_settings_without_their_secrets_are_refused(templates, monkeypatch):
    # The same check fails when a secret is missing, so the test above can fail.
    for name, value in task_variables(templates["prod", "Services"], "users").items():
        if name != "ADMIN_PASSWORD":
            monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="ADMIN_PASSWORD"):
        config_class("users")()


def test_every_task_at_full_scale_fits_in_the_database_connections(templates, config, monkeypatch):
    """Each process keeps one connection per request thread (users one more, for its login
    limiter). At max_tasks, with a blue/green deployment's second task set alive, they must still
    fit in RDS max_connections, less a few kept for RDS itself and an operator's psql. (Prod then
    passes the 80% alarm: rightly so.)"""
    for name in list(os.environ):
        if name.startswith(("DB_", "GUNICORN_", "WEB_CONCURRENCY")):
            monkeypatch.delenv(name, raising=False)
    needed = 0
    for spec in SERVICES:
        if not has_database(spec):
            continue
        variables = task_variables(templates[config.name, "Services"], spec.name)
        with monkeypatch.context() as env:
            for name, value in variables.items():
                env.setenv(name, value)
            settings = config_class(spec.name)()
        connections = settings.db_pool_size
        if getattr(settings, "ratelimit_storage_uri", "").startswith("database:"):
            connections += LIMITER_POOL_SIZE  # the users login limiter's own
        task_sets = 2 if config.is_blue_green(spec.name) else 1
        needed += config.max_tasks * task_sets * int(variables["WEB_CONCURRENCY"]) * connections
    assert 0 < needed <= config.db_max_connections - 10


def test_gunicorn_threads_reach_the_named_service_task_and_its_pool(monkeypatch):
    """The remedy the p99 alarm's runbook names: `gunicorn_threads` in stacks/config.py."""
    app = App(context=cdk_json_context())
    base = with_context(DEV, app.node.try_get_context, account=ACCOUNT)
    environment = add_environment(app, dataclasses.replace(base, gunicorn_threads={"orders": 6}))
    template = Template.from_stack(environment.services)
    for name in list(os.environ):
        if name.startswith(("DB_", "GUNICORN_")):
            monkeypatch.delenv(name, raising=False)
    for spec in SERVICES:
        variables = task_variables(template, spec.name)
        assert variables.get("GUNICORN_THREADS") == ("6" if spec.name == "orders" else None), spec.name
    with monkeypatch.context() as env:
        for name, value in task_variables(template, "orders").items():
            env.setenv(name, value)
        assert config_class("orders")().db_pool_size == 6
    assert request_threads() == 3  # what every other task runs with


def test_gunicorn_threads_of_an_unknown_service_or_below_one_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        dataclasses.replace(DEV, gunicorn_threads={"orders": 0})
    app = App(context=cdk_json_context())
    config = dataclasses.replace(with_context(DEV, app.node.try_get_context, account=ACCOUNT),
                                 gunicorn_threads={"order": 6})
    with pytest.raises(ValueError, match=r"does not have: \['order'\]"):
        add_environment(app, config)
