"""After a deploy: prove through the shop URL (the ALB) that each of the four services answers.

    python .github/scripts/smoke_test.py --outputs-file cdk-outputs.json [--output-key ShopUrl]
    python .github/scripts/smoke_test.py --url http://localhost:8080

Each service answers `/health` only on its own port, and the ALB sends `/health` to the storefront,
so the other services are checked through a path the ALB routes to them that proves they are up:
users serves its signing keys, catalog reads categories from the database, and orders rejects an
anonymous caller with the shared 401 error shape. Probes are retried until `--timeout` because
tasks can still be settling when `cdk deploy` returns. Prints a Markdown table (for the job summary)
and exits 1 if any probe failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests


@dataclass(frozen=True)
class Probe:
    service: str
    path: str
    expected_status: int
    check: Callable[[object], str | None]  # parsed JSON body → None if fine, else what is wrong
    proves: str


def _health_of(service: str) -> Callable[[object], str | None]:
    def check(body):
        if not isinstance(body, dict) or body.get("status") != "ok":
            return f"expected {{'status': 'ok'}}, got {body!r:.200}"
        if body.get("service") != service:
            return f"/health was answered by {body.get('service')!r}, not {service!r}"
        return None
    return check


def _has_signing_keys(body) -> str | None:
    keys = body.get("keys") if isinstance(body, dict) else None
    if not keys or not all(isinstance(k, dict) and k.get("kty") == "EC" for k in keys):
        return f"expected a JWKS with EC keys, got {body!r:.200}"
    return None


def _is_category_list(body) -> str | None:
    items = body.get("items", body) if isinstance(body, dict) else body
    if not isinstance(items, list):
        return f"expected a list of categories, got {body!r:.200}"
    return None


def _is_unauthorized_error(body) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("code") != "unauthorized":
        return f"expected the shared error shape with code 'unauthorized', got {body!r:.200}"
    return None


PROBES: tuple[Probe, ...] = (
    Probe("storefront", "/health", 200, _health_of("storefront"), "the ALB default rule reaches it"),
    Probe("users", "/.well-known/jwks.json", 200, _has_signing_keys, "it serves its token signing keys"),
    Probe("catalog", "/api/categories", 200, _is_category_list, "it reads categories from the database"),
    Probe("orders", "/api/orders", 401, _is_unauthorized_error, "it answers and refuses anonymous calls"),
)


@dataclass(frozen=True)
class ProbeResult:
    probe: Probe
    ok: bool
    detail: str
    attempts: int


def check_once(base_url: str, probe: Probe, request_timeout: float = 10.0) -> str | None:
    """None when the probe passes, otherwise what went wrong."""
    try:
        response = requests.get(base_url + probe.path, timeout=request_timeout,
                                headers={"Accept": "application/json",
                                         "User-Agent": "sweetdream-smoke-test"})
    except requests.RequestException as error:
        return f"no response: {type(error).__name__}"
    if response.status_code != probe.expected_status:
        return f"HTTP {response.status_code}, expected {probe.expected_status}"
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} but the body is not JSON: {response.content[:120]!r}"
    return probe.check(body)


def run_probes(base_url: str, *, timeout: float, interval: float,
               request_timeout: float = 10.0) -> list[ProbeResult]:
    base_url = base_url.rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"the shop URL must be http(s), got {base_url!r}")
    deadline = time.monotonic() + timeout
    results = []
    for probe in PROBES:
        attempts = 0
        while True:
            attempts += 1
            problem = check_once(base_url, probe, request_timeout)
            if problem is None or time.monotonic() + interval > deadline:
                break
            time.sleep(interval)
        results.append(ProbeResult(probe, problem is None, problem or "ok", attempts))
    return results


def shop_url_from_outputs(outputs_file: Path, output_key: str) -> str:
    """The one `output_key` value in a `cdk deploy --outputs-file` JSON ({stack: {key: value}})."""
    outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
    found = [values[output_key] for values in outputs.values()
             if isinstance(values, dict) and output_key in values]
    if len(found) != 1:
        raise ValueError(f"expected exactly one {output_key!r} output in {outputs_file}, "
                         f"found {len(found)}")
    return found[0]


def render(base_url: str, results: list[ProbeResult]) -> str:
    lines = [f"Shop URL: {base_url}", "",
             "| service | request | expected | result | attempts | why this proves it is up |",
             "|---|---|---|---|---|---|"]
    for r in results:
        mark = "✅" if r.ok else "❌"
        detail = r.detail.replace("|", "\\|")
        lines.append(f"| {r.probe.service} | `GET {r.probe.path}` | {r.probe.expected_status} | "
                     f"{mark} {detail} | {r.attempts} | {r.probe.proves} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="the shop's base URL")
    source.add_argument("--outputs-file", type=Path, help="JSON written by cdk deploy --outputs-file")
    parser.add_argument("--output-key", default="ShopUrl", help="stack output holding the shop URL")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to keep retrying")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between attempts")
    parser.add_argument("--url-only", action="store_true", help="print the shop URL and stop")
    args = parser.parse_args(argv)
    try:
        base_url = args.url or shop_url_from_outputs(args.outputs_file, args.output_key)
        if args.url_only:
            print(base_url)
            return 0
        results = run_probes(base_url, timeout=args.timeout, interval=args.interval)
    except (OSError, ValueError) as error:
        print(f"smoke test could not run: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(render(base_url.rstrip("/"), results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
