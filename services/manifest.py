"""The one route table: every service, its port and its ALB path rules.

The local gateway and the CDK listener rules are both generated from SERVICES, in this order,
so the first matching service wins exactly as it does on the ALB.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    path_patterns: tuple[str, ...]  # ALB path-pattern syntax (* and ?); empty = default route
    health_path: str = "/health"  # 503 while the service's database is unreachable
    # What ECS and the ALB probe: replacing tasks during a database failover would only add
    # restarts to the outage (README "Reliability").
    liveness_path: str = "/health/live"
    cpu: int = 256  # Fargate CPU units
    memory_mib: int = 512
    # Flask CLI commands run before each start (make run, containers, bench); all idempotent.
    setup: tuple[tuple[str, ...], ...] = ()

    @property
    def is_default(self) -> bool:
        return not self.path_patterns


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("users", 3003, ("/api/auth/*", "/api/users/*", "/api/customers*", "/.well-known/*"),
                setup=(("migrate",), ("ensure-admin",))),
    ServiceSpec("orders", 3002, ("/api/orders*",), setup=(("migrate",),)),
    ServiceSpec("catalog", 3001, ("/api/*",), setup=(("migrate",), ("seed",))),
    ServiceSpec("storefront", 3000, ()),
)

GATEWAY_PORT = 8080


def by_name(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(name)


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    # ALB patterns are case-sensitive globs over the whole path; fnmatch.translate handles * and ?.
    return re.compile(fnmatch.translate(glob))


def route(path: str) -> ServiceSpec:
    """The service the ALB would send `path` to."""
    for spec in SERVICES:
        if any(_pattern(p).match(path) for p in spec.path_patterns):
            return spec
    return next(spec for spec in SERVICES if spec.is_default)
