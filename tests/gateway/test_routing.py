"""The gateway routes exactly as the ALB rules in services/manifest.py say."""

import json

import pytest
import requests

from services.gateway import create_gateway
from services.manifest import SERVICES, route
from tests.conftest import live_server


def _echo_app(name):
    def app(environ, start_response):
        body = json.dumps({
            "service": name,
            "path": environ["PATH_INFO"],
            "query": environ.get("QUERY_STRING", ""),
            "method": environ["REQUEST_METHOD"],
            "body": environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode(),
            "forwardedFor": environ.get("HTTP_X_FORWARDED_FOR"),
            "authorization": environ.get("HTTP_AUTHORIZATION"),
            "cookie": environ.get("HTTP_COOKIE"),
        }).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/")])
        return [body]
    return app


@pytest.fixture(scope="module")
def gateway_url():
    servers = {spec.name: live_server(_echo_app(spec.name)) for spec in SERVICES}
    upstreams = {name: server.__enter__() for name, server in servers.items()}
    with live_server(create_gateway(upstreams)) as url:
        yield url
    for server in servers.values():
        server.__exit__(None, None, None)


EXPECTED = {
    "/api/auth/login": "users",
    "/api/customers": "users",
    "/api/customers/7/role": "users",
    "/.well-known/jwks.json": "users",
    "/api/orders": "orders",
    "/api/orders/1": "orders",
    "/api/products": "catalog",
    "/api/cart/1": "catalog",
    "/api/categories": "catalog",
    "/": "storefront",
    "/products/3": "storefront",
    "/apix": "storefront",
}


@pytest.mark.parametrize(("path", "service"), EXPECTED.items())
def test_manifest_route(path, service):
    assert route(path).name == service


@pytest.mark.parametrize(("path", "service"), EXPECTED.items())
def test_gateway_forwards_to_the_manifest_service(gateway_url, path, service):
    response = requests.get(gateway_url + path + "?page=2", headers={"Authorization": "Bearer t"})
    assert response.status_code == 200
    seen = response.json()
    assert seen["service"] == service
    assert seen["path"] == path
    assert seen["query"] == "page=2"
    assert seen["authorization"] == "Bearer t"
    assert seen["forwardedFor"] == "127.0.0.1"


def test_gateway_forwards_bodies_and_keeps_repeated_headers(gateway_url):
    response = requests.post(gateway_url + "/api/orders", json={"items": [1]})
    assert response.json()["body"] == '{"items": [1]}'
    assert response.json()["method"] == "POST"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_gateway_forwards_a_chunked_body_whole(gateway_url):
    """A client may stream its body without Content-Length; the services get it with one."""
    chunks = (part.encode() for part in ('{"productId": 1, ', '"size": "12cm", ', '"quantity": 1}'))
    response = requests.post(gateway_url + "/api/cart", data=chunks,
                             headers={"Content-Type": "application/json"})
    assert response.json()["body"] == '{"productId": 1, "size": "12cm", "quantity": 1}'


def test_priority_follows_manifest_order():
    # users' and orders' rules sit before catalog's catch-all /api/*, as on the ALB
    names = [spec.name for spec in SERVICES]
    assert names.index("users") < names.index("catalog")
    assert names.index("orders") < names.index("catalog")
    assert SERVICES[-1].is_default


def test_unreachable_upstream_gives_502_in_the_error_shape():
    upstreams = {spec.name: "http://127.0.0.1:9" for spec in SERVICES}
    with live_server(create_gateway(upstreams)) as url:
        response = requests.get(url + "/api/products")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bad_gateway"


def test_gateway_never_replays_one_visitors_cookies_to_another(gateway_url):
    first = requests.get(gateway_url + "/")  # the upstream sets cookies a=1 and b=2
    assert first.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    echo = requests.get(gateway_url + "/echo-cookies")
    assert echo.json()["cookie"] is None
    mine = requests.get(gateway_url + "/echo-cookies", cookies={"session": "mine"})
    assert mine.json()["cookie"] == "session=mine"
