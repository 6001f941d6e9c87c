"""The post-deploy smoke test, run against the whole shop in-process behind the real gateway
(which routes exactly as the ALB rules do)."""

import json

import pytest

from services.gateway import create_gateway
from services.manifest import SERVICES, route
from tests.ci.conftest import load_script
from tests.conftest import live_server

smoke = load_script("smoke_test")
DEAD_URL = "http://127.0.0.1:9"  # the discard port: nothing listens there


def test_each_service_has_one_probe_that_the_alb_routes_to_it():
    assert sorted(p.service for p in smoke.PROBES) == sorted(s.name for s in SERVICES)
    for probe in smoke.PROBES:
        assert route(probe.path).name == probe.service, probe.path


def test_every_probe_passes_on_the_running_shop(stack):
    results = smoke.run_probes(stack.url, timeout=10, interval=0.1)
    assert [(r.probe.service, r.ok, r.detail, r.attempts) for r in results] == [
        (p.service, True, "ok", 1) for p in smoke.PROBES]


def test_command_line_reads_the_url_from_cdk_outputs(stack, tmp_path, capsys):
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(json.dumps({"SweetDream-Dev-Network": {"VpcId": "vpc-1"},
                                   "SweetDream-Dev-Services": {"ShopUrl": stack.url + "/"}}))
    assert smoke.main(["--outputs-file", str(outputs), "--timeout", "10", "--interval", "0.1"]) == 0
    table = capsys.readouterr().out
    assert table.startswith(f"Shop URL: {stack.url}\n")
    assert table.count("| ✅ ok |") == 4
    assert smoke.main(["--outputs-file", str(outputs), "--url-only"]) == 0
    assert capsys.readouterr().out == stack.url + "/\n"


def test_a_service_that_is_down_fails_its_probe_only(stack):
    upstreams = {spec.name: stack.url for spec in SERVICES} | {"orders": DEAD_URL}
    with live_server(create_gateway(upstreams)) as url:
        results = {r.probe.service: r for r in smoke.run_probes(url, timeout=0.5, interval=0.1)}
    assert not results["orders"].ok
    assert results["orders"].detail.startswith("HTTP 5")
    assert all(r.ok for name, r in results.items() if name != "orders")


def test_probes_notice_when_the_wrong_service_answers(stack):
    # As if every listener rule were lost and the ALB sent everything to the storefront.
    with live_server(create_gateway({spec.name: stack.storefront_url for spec in SERVICES})) as url:
        results = {r.probe.service: r for r in smoke.run_probes(url, timeout=0.2, interval=0.1)}
    assert results["storefront"].ok
    assert not any(results[name].ok for name in ("users", "catalog", "orders"))


def test_a_shop_still_starting_is_retried_until_it_answers(stack):
    gateway = create_gateway({spec.name: stack.url for spec in SERVICES})
    calls = {"count": 0}

    def starting_up(environ, start_response):
        calls["count"] += 1
        if calls["count"] <= 2:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no healthy targets"]
        return gateway(environ, start_response)

    with live_server(starting_up) as url:
        results = smoke.run_probes(url, timeout=10, interval=0.05)
    assert all(r.ok for r in results)
    assert results[0].attempts == 3


def test_nothing_listening_fails_every_probe_after_the_timeout(capsys):
    assert smoke.main(["--url", DEAD_URL, "--timeout", "0.3", "--interval", "0.1"]) == 1
    table = capsys.readouterr().out
    assert table.count("❌ no response") == 4


@pytest.mark.parametrize("outputs", [
    {"SweetDream-Dev-Services": {"LoadBalancerDns": "x"}},
    {"A": {"ShopUrl": "http://a"}, "B": {"ShopUrl": "http://b"}},
])
def test_outputs_without_exactly_one_shop_url_are_an_error(tmp_path, capsys, outputs):
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps(outputs))
    assert smoke.main(["--outputs-file", str(path)]) == 2
    assert "expected exactly one 'ShopUrl' output" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://shop", "shop.example.com"])
def test_only_http_urls_are_probed(url, capsys):
    assert smoke.main(["--url", url]) == 2
    assert "must be http(s)" in capsys.readouterr().err
