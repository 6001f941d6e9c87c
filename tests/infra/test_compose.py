"""compose.yaml runs the image ECS runs, one container per manifest service, plus PostgreSQL."""

from __future__ import annotations

import pytest
import yaml

from services.gateway import THREADS
from services.manifest import GATEWAY_PORT, SERVICES
from stacks.container_image import REPO_ROOT, has_database


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


def test_one_container_per_manifest_service_plus_gateway_and_database(compose):
    assert set(compose["services"]) == {spec.name for spec in SERVICES} | {"gateway", "db"}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_service_matches_the_manifest(compose, spec):
    service = compose["services"][spec.name]
    assert service["build"] == "."
    assert "command" not in service  # the image's own start command: setup, then gunicorn
    env = service["environment"]
    assert env["SERVICE"] == spec.name
    assert env["PORT"] == str(spec.port)
    assert env["ENVIRONMENT"] == "local"
    assert bool(env["DATABASE_URL"]) is has_database(spec)
    assert service["depends_on"]["db"]["condition"] == "service_healthy"
    # health comes from the image's HEALTHCHECK, which probes the manifest's health path on PORT
    assert spec.health_path == "/health"


def test_gateway_serves_the_route_table_on_the_published_port(compose):
    gateway = compose["services"]["gateway"]
    assert gateway["environment"]["PORT"] == str(GATEWAY_PORT)
    assert gateway["environment"]["GUNICORN_THREADS"] == str(THREADS)  # tests/gateway/test_nested_calls.py
    assert gateway["command"][-1] == "services.gateway:create_app()"
    assert compose["services"]["db"]["ports"] == [f"{GATEWAY_PORT}:{GATEWAY_PORT}"]
    assert set(gateway["depends_on"]) == {spec.name for spec in SERVICES}
    # the gateway routes to 127.0.0.1:<manifest port>, so every container shares one namespace
    for name in [spec.name for spec in SERVICES] + ["gateway"]:
        assert compose["services"][name]["network_mode"] == "service:db"


def test_internal_urls_point_at_manifest_ports(compose):
    ports = {spec.name: spec.port for spec in SERVICES}
    for caller in ("orders", "storefront"):
        environment = compose["services"][caller]["environment"]
        assert environment["CATALOG_URL"] == f"http://127.0.0.1:{ports['catalog']}"
    assert compose["services"]["orders"]["environment"]["USERS_URL"] == f"http://127.0.0.1:{ports['users']}"
    for spec in SERVICES:
        jwks = compose["services"][spec.name]["environment"].get("JWKS_URL")
        if spec.name != "users":
            assert jwks == f"http://127.0.0.1:{ports['users']}/.well-known/jwks.json"
    assert (
        compose["services"]["storefront"]["environment"]["API_BASE_URL"] == f"http://127.0.0.1:{GATEWAY_PORT}"
    )


def test_database_matches_the_rds_major_version(compose, templates):
    (instance,) = templates["prod", "Data"].find_resources("AWS::RDS::DBInstance").values()
    major = instance["Properties"]["EngineVersion"]
    assert compose["services"]["db"]["image"].startswith(f"postgres:{major}-")
