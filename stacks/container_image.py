"""The one container image every service runs (Dockerfile at the repository root)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from aws_cdk import Duration, IgnoreMode
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from services.manifest import ServiceSpec

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "Dockerfile"

_HEALTHCHECK = re.compile(r"^HEALTHCHECK\b(?P<options>.*?)\bCMD\s+(?P<command>\[.*\])\s*$", re.MULTILINE)
_DURATION = re.compile(r"--(?P<name>[a-z-]+)=(?P<value>\d+)(?P<unit>s|m)?")


def has_database(spec: ServiceSpec) -> bool:
    """A service owns tables exactly when it has Alembic migrations (the storefront has none)."""
    return (REPO_ROOT / "services" / spec.name / "migrations").is_dir()


@cache
def dockerfile_healthcheck() -> ecs.HealthCheck:
    """The Dockerfile's HEALTHCHECK as an ECS container health check (ECS ignores the image's own)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    match = _HEALTHCHECK.search(text)
    if match is None:
        raise ValueError(f"{DOCKERFILE} has no exec-form HEALTHCHECK")
    options = {}
    for option in _DURATION.finditer(match["options"]):
        value = int(option["value"])
        options[option["name"]] = value * 60 if option["unit"] == "m" else value
    return ecs.HealthCheck(
        command=["CMD", *json.loads(match["command"])],
        interval=Duration.seconds(options.get("interval", 30)),
        timeout=Duration.seconds(options.get("timeout", 5)),
        start_period=Duration.seconds(options.get("start-period", 0)),
        retries=options.get("retries", 3),
    )


def service_image(scope: Construct, construct_id: str) -> ecs.ContainerImage:
    """Built by `cdk deploy` (not by synth) from the repository root; .dockerignore keeps it small."""
    asset = ecr_assets.DockerImageAsset(
        scope,
        construct_id,
        directory=str(REPO_ROOT),
        file=DOCKERFILE.name,
        platform=ecr_assets.Platform.LINUX_AMD64,
        ignore_mode=IgnoreMode.DOCKER,
    )
    return ecs.ContainerImage.from_docker_image_asset(asset)
