"""Read endpoints send ETag and Cache-Control, and answer a matching If-None-Match with 304."""

import pytest

from tests.catalog.conftest import CUSTOMER

PUBLIC_READS = ["/api/products", "/api/products?category=tiramisu&sort=price", "/api/products/1",
                "/api/products/search?q=dau", "/api/categories"]


@pytest.mark.parametrize("path", PUBLIC_READS)
def test_public_reads_are_cacheable_and_revalidate_to_304(client, path):
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    assert first.headers["Cache-Control"] == "public, max-age=60"
    assert "Authorization" in first.headers["Vary"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert client.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_an_edit_changes_the_etag(client, admin):
    before = client.get("/api/products/1").headers["ETag"]
    client.patch("/api/products/1/sizes/1", json={"price": 91000}, headers=admin)
    response = client.get("/api/products/1", headers={"If-None-Match": before})
    assert response.status_code == 200 and response.headers["ETag"] != before


def test_cache_lifetime_comes_from_config(make_app):
    client = make_app(catalog_cache_seconds=5).test_client()
    assert client.get("/api/categories").headers["Cache-Control"] == "public, max-age=5"


def test_reads_with_a_token_are_private(client, auth):
    response = client.get("/api/products", headers=auth(CUSTOMER))
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_the_cart_is_private_and_revalidates(client, auth):
    client.post("/api/cart", headers=auth(CUSTOMER), json={"productId": 1, "size": "12cm"})
    first = client.get(f"/api/cart/{CUSTOMER}", headers=auth(CUSTOMER))
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    assert client.get(f"/api/cart/{CUSTOMER}", headers=auth(CUSTOMER, **{"If-None-Match": etag})
                      ).status_code == 304
    client.post("/api/cart", headers=auth(CUSTOMER), json={"productId": 1, "size": "12cm"})
    assert client.get(f"/api/cart/{CUSTOMER}", headers=auth(CUSTOMER, **{"If-None-Match": etag})
                      ).status_code == 200


def test_errors_are_not_cached(client):
    response = client.get("/api/products/999")
    assert response.status_code == 404 and "ETag" not in response.headers
    assert client.get("/api/products?page=0").headers.get("Cache-Control") is None


def test_images_are_served_with_long_caching_and_no_script(client):
    response = client.get("/api/images/mousse-dau.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.data.startswith(b"<svg") and b"<script" not in response.data
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    revalidated = client.get("/api/images/mousse-dau.svg",
                             headers={"If-None-Match": response.headers["ETag"]})
    assert revalidated.status_code == 304


@pytest.mark.parametrize("name", ["nope.svg", "..%2Fconfig.py", "catalog-seed.json", "MOUSSE-DAU.svg",
                                  "mousse-dau.png", ".svg"])
def test_unknown_images_are_404(client, name):
    response = client.get(f"/api/images/{name}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_every_product_has_its_own_image(client):
    products = client.get("/api/products?pageSize=100").get_json()["items"]
    urls = {p["imageUrl"] for p in products}
    assert len(urls) == 16
    for url in urls:
        assert client.get(url).status_code == 200
