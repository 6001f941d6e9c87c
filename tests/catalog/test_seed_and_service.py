"""The seed command, migrations on an empty database, health and the generated OpenAPI document."""

import json
import re

import pytest
from sqlalchemy import func, select

from services.catalog.admin import IMAGE_DIR
from services.catalog.config import SERVICE_DIR
from services.catalog.models import Base, Category, Product, ProductSize
from services.catalog.search import slugify
from services.kit.routing import bounded_digits
from tests.catalog.conftest import SEED
from tests.conftest import assert_error, migration_drift


def counts(app) -> tuple[int, int, int]:
    with app.extensions["db"].engine.connect() as conn:
        return tuple(conn.scalar(select(func.count()).select_from(model))
                     for model in (Category, Product, ProductSize))


def test_seed_loads_the_original_catalog_once(make_app):
    app = make_app(seeded=False)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "seeded 4 categories, 16 products, 40 sizes" in first.output
    assert counts(app) == (4, 16, 40)
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0 and "seed skipped" in second.output
    assert counts(app) == (4, 16, 40)


def test_reseeding_never_overwrites_admin_edits(make_app, admin):
    app = make_app()
    client = app.test_client()
    client.patch("/api/products/1", json={"name": "Mousse Dâu Mới", "active": False}, headers=admin)
    client.patch("/api/products/1/sizes/1", json={"price": 99000}, headers=admin)
    assert app.test_cli_runner().invoke(args=["seed"]).exit_code == 0
    product = client.get("/api/products/1", headers=admin).get_json()
    assert product["name"] == "Mousse Dâu Mới" and product["active"] is False
    assert product["sizes"][0]["price"] == 99000
    assert counts(app) == (4, 16, 40)


def test_seed_matches_the_reference_file(client):
    reference = json.loads((SERVICE_DIR / "catalog-seed.json").read_text(encoding="utf-8"))
    listed = client.get("/api/products?pageSize=100").get_json()["items"]
    assert [(p["name"], p["category"]["name"], p["description"],
             [(s["size"], s["price"]) for s in p["sizes"]]) for p in listed] == [
        (p["name"], p["category"], p["description"],
         sorted(((s["size"], s["price"]) for s in p["sizes"]), key=lambda s: s[1]))
        for p in reference["products"]]
    assert len(SEED.products) == 16


def test_seed_images_are_our_own_small_svgs():
    for entry in SEED.products:
        image = IMAGE_DIR / f"{slugify(entry.name)}.svg"
        assert image.is_file(), image
        text = image.read_text(encoding="utf-8")
        assert text.startswith("<svg") and "http://www.w3.org/2000/svg" in text
        assert "href" not in text and "<script" not in text and len(text) < 4096


@pytest.mark.parametrize("content", ["not json", '{"products": []}',
                                     '{"products": [{"id": 1, "name": "X", "category": "Y", "sizes": []}]}'])
def test_a_bad_seed_file_fails_clearly(make_app, tmp_path, content):
    app = make_app(seeded=False)
    path = tmp_path / "seed.json"
    path.write_text(content)
    result = app.test_cli_runner().invoke(args=["seed", "--file", str(path)])
    assert result.exit_code == 1 and "not a valid seed file" in result.output
    assert counts(app) == (0, 0, 0)


def test_health(client):
    assert client.get("/health").get_json() == {"status": "ok", "service": "catalog"}


def test_openapi_documents_the_api(client):
    document = client.get("/openapi.json").get_json()
    paths = document["paths"]
    for path in ("/api/products", "/api/products/search", "/api/products/{product_id}",
                 "/api/products/prices", "/api/products/{product_id}/sizes/{size_id}", "/api/categories",
                 "/api/categories/{category_id}", "/api/cart", "/api/cart/{id}", "/api/cart/user/{user_id}",
                 "/api/cart/user/{user_id}/ordered"):
        assert path in paths, path
    # Any operation may answer 503 (the kit's answer when the database cannot be reached).
    assert all("503" in operation["responses"] for operations in paths.values()
               for operation in operations.values())
    assert set(paths["/api/cart/{id}"]) == {"get", "patch", "delete"}
    listing = {p["name"] for p in paths["/api/products"]["get"]["parameters"]}
    assert {"category", "q", "size", "minPrice", "maxPrice", "sort", "page", "pageSize"} <= listing


def test_malformed_and_non_json_bodies(client, admin):
    assert_error(client.post("/api/products", data="{nope", content_type="application/json",
                             headers=admin), 400, "bad_request")
    assert_error(client.post("/api/products/prices", data="items=1",
                             content_type="application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type")
    assert_error(client.post("/api/products/prices", data=b'"' + b"x" * (1024 * 1024 + 1) + b'"',
                             content_type="application/json"), 413, "payload_too_large")


def test_wrong_method_is_405(client):
    assert_error(client.put("/api/products/1", json={}), 405, "method_not_allowed")


def test_migrations_match_the_models(app):
    assert migration_drift(app.extensions["db"].engine, Base.metadata, "catalog") == []


@pytest.mark.parametrize("method, path", [
    ("get", "/api/products/2147483648"), ("patch", "/api/products/2147483648"),
    ("delete", "/api/products/1/sizes/99999999999"), ("patch", "/api/categories/2147483648"),
    ("delete", "/api/categories/2147483648"), ("get", "/api/cart/2147483648"),
    ("patch", "/api/cart/2147483648"), ("delete", "/api/cart/2147483648"),
    ("delete", "/api/cart/user/2147483648"), ("get", "/api/products/007"),
])
def test_ids_beyond_the_database_range_are_404_for_every_method(client, admin, method, path):
    # Not 405: werkzeug would otherwise match the path with another method's rule first.
    assert_error(getattr(client, method)(path, headers=admin, json={}), 404, "not_found")


@pytest.mark.parametrize("limit", [0, 7, 10, 99, 100, 909, 2147483647])
def test_bounded_id_pattern(limit):
    pattern = re.compile(bounded_digits(limit))
    numbers = {*range(0, 1200), limit - 1, limit, limit + 1, 2147483648, 10**12}
    for number in numbers - {-1}:
        assert bool(pattern.fullmatch(str(number))) == (number <= limit), number
    assert not pattern.fullmatch("01") and not pattern.fullmatch("")
