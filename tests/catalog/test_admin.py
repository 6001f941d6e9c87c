"""Catalog editing: admins only, every field validated, conflicts are 409."""

import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.catalog.conftest import CUSTOMER, error_fields, names
from tests.conftest import assert_error, live_server

NEW_PRODUCT = {"name": "Bánh Bông Lan Trứng Muối", "description": "Bông lan mềm, trứng muối béo.",
               "categoryId": 4, "sizes": [{"size": "Hộp 4 cái", "price": 60000},
                                          {"size": "Hộp 8 cái", "price": 110000}]}

# Every admin write, with a body that would succeed for an admin.
ADMIN_WRITES = [
    ("post", "/api/products", NEW_PRODUCT),
    ("patch", "/api/products/1", {"name": "Mousse Dâu Tây"}),
    ("post", "/api/products/1/sizes", {"size": "24cm", "price": 200000}),
    ("patch", "/api/products/1/sizes/1", {"price": 95000}),
    ("delete", "/api/products/1/sizes/1", None),
    ("post", "/api/categories", {"name": "Bánh Flan"}),
    ("patch", "/api/categories/1", {"description": "Mềm mịn"}),
    ("delete", "/api/categories/1", None),
]


def _call(client, method, path, body, headers=None):
    return getattr(client, method)(path, json=body, headers=headers or {})


@pytest.mark.parametrize("method, path, body", ADMIN_WRITES)
def test_anonymous_is_401(client, method, path, body):
    response = _call(client, method, path, body)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("method, path, body", ADMIN_WRITES)
def test_customer_is_403(client, auth, method, path, body):
    assert_error(_call(client, method, path, body, auth(CUSTOMER)), 403, "forbidden")


@pytest.mark.parametrize("forgery", [
    lambda t: t.token(1, "ADMIN", exp=int(time.time()) - 10, iat=int(time.time()) - 100),
    lambda t: t.token(1, "ADMIN", key=ec.generate_private_key(ec.SECP256R1())),
    lambda t: t.token(1, "ADMIN", aud="someone-else"),
    lambda t: "not.a.token",
])
def test_forged_admin_tokens_are_401(client, tokens, forgery):
    headers = {"Authorization": f"Bearer {forgery(tokens)}"}
    for method, path, body in ADMIN_WRITES:
        assert _call(client, method, path, body, headers).status_code == 401, (method, path)


def test_a_role_claimed_in_the_body_grants_nothing(client, auth):
    body = {**NEW_PRODUCT, "isAdmin": True}
    assert_error(client.post("/api/products", json=body, headers=auth(CUSTOMER)), 403, "forbidden")


def test_create_product(client, admin):
    response = client.post("/api/products", json=NEW_PRODUCT, headers=admin)
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/products/{body['id']}"
    assert body["slug"] == "banh-bong-lan-trung-muoi" and body["active"] is True
    assert body["category"] == {"id": 4, "name": "Bánh Nướng", "slug": "banh-nuong"}
    assert body["imageUrl"] == "/api/images/cake.svg" and body["minPrice"] == 60000
    assert [s["size"] for s in body["sizes"]] == ["Hộp 4 cái", "Hộp 8 cái"]
    assert client.get(f"/api/products/{body['id']}").get_json() == body
    assert names(client.get("/api/products/search?q=trung muoi")) == ["Bánh Bông Lan Trứng Muối"]


def test_same_name_gets_a_numbered_slug_and_an_explicit_slug_must_be_free(client, admin):
    first = client.post("/api/products", json={**NEW_PRODUCT, "name": "Mousse Dâu"}, headers=admin)
    assert first.get_json()["slug"] == "mousse-dau-2"
    taken = client.post("/api/products", json={**NEW_PRODUCT, "slug": "mousse-dau"}, headers=admin)
    assert_error(taken, 409, "conflict")


def test_create_inactive_product_with_a_chosen_image(client, admin):
    body = {**NEW_PRODUCT, "active": False, "image": "banh-so-co-la.svg"}
    created = client.post("/api/products", json=body, headers=admin).get_json()
    assert created["active"] is False and created["imageUrl"] == "/api/images/banh-so-co-la.svg"
    assert client.get("/api/products").get_json()["total"] == 16


@pytest.mark.parametrize("change, field", [
    ({"name": None}, "name"), ({"name": ""}, "name"), ({"name": "x" * 201}, "name"),
    ({"name": "!!!"}, "name"), ({"name": 5}, "name"),
    ({"description": "x" * 2001}, "description"),
    ({"categoryId": "4"}, "categoryId"), ({"categoryId": 0}, "categoryId"),
    ({"categoryId": 2**31}, "categoryId"), ({"categoryId": 999}, "categoryId"),
    ({"slug": "Not A Slug"}, "slug"), ({"slug": "-x"}, "slug"),
    ({"image": "../../etc/passwd"}, "image"), ({"image": "missing.svg"}, "image"),
    ({"image": "https://evil.example/cake.svg"}, "image"),
    ({"active": "yes"}, "active"), ({"active": 1}, "active"),
    ({"sizes": []}, "sizes"), ({"sizes": "12cm"}, "sizes"),
    ({"sizes": [{"size": "12cm", "price": 1}, {"size": "12cm", "price": 2}]}, "sizes"),
    ({"sizes": [{"size": "Hũ", "price": 1}, {"size": "hũ", "price": 2}]}, "sizes"),
    ({"sizes": [{"size": "12cm", "price": -1}]}, "sizes.0.price"),
    ({"sizes": [{"size": "12cm", "price": 0}]}, "sizes.0.price"),
    ({"sizes": [{"size": "12cm", "price": 1.5}]}, "sizes.0.price"),
    ({"sizes": [{"size": "12cm", "price": "90000"}]}, "sizes.0.price"),
    ({"sizes": [{"size": "12cm", "price": 10**12}]}, "sizes.0.price"),
    ({"sizes": [{"size": "", "price": 1}]}, "sizes.0.size"),
    ({"sizes": [{"size": "x" * 21, "price": 1}]}, "sizes.0.size"),
    ({"sizes": [{"size": "12cm"}]}, "sizes.0.price"),
    ({"unknown": 1}, "unknown"),
])
def test_product_validation(client, admin, change, field):
    body = {**NEW_PRODUCT, **change}
    assert field in error_fields(client.post("/api/products", json=body, headers=admin))


@pytest.mark.parametrize("missing", ["name", "categoryId", "sizes"])
def test_required_product_fields(client, admin, missing):
    body = {k: v for k, v in NEW_PRODUCT.items() if k != missing}
    assert error_fields(client.post("/api/products", json=body, headers=admin)) == {missing}


@pytest.mark.parametrize("body", [[NEW_PRODUCT], "cake", 42, None])
def test_a_body_that_is_not_an_object_is_422(client, admin, body):
    response = client.post("/api/products", json=body, headers=admin)
    assert response.status_code == 422


def test_update_product_fields_and_search_follows_the_new_name(client, admin):
    response = client.patch("/api/products/1", headers=admin, json={
        "name": "Mousse Dâu Tây Đà Lạt", "description": "Dâu Đà Lạt.", "categoryId": 2,
        "slug": "mousse-dau-da-lat", "image": "tiramisu-dau.svg"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Mousse Dâu Tây Đà Lạt" and body["category"]["name"] == "Tiramisu"
    assert body["slug"] == "mousse-dau-da-lat" and body["imageUrl"] == "/api/images/tiramisu-dau.svg"
    assert [(s["size"], s["price"]) for s in body["sizes"]] == [
        ("12cm", 90000), ("16cm", 120000), ("20cm", 160000)]  # sizes are edited on their own
    assert names(client.get("/api/products/search?q=da lat")) == ["Mousse Dâu Tây Đà Lạt"]


@pytest.mark.parametrize("body, field", [
    ({}, None), ({"name": None}, "name"), ({"active": None}, "active"), ({"active": "false"}, "active"),
    ({"categoryId": 999}, "categoryId"), ({"sizes": []}, "sizes"), ({"id": 5}, "id"),
])
def test_update_product_validation(client, admin, body, field):
    fields = error_fields(client.patch("/api/products/1", json=body, headers=admin))
    assert field is None or field in fields


def test_update_product_slug_conflict_and_unknown_product(client, admin):
    assert_error(client.patch("/api/products/1", json={"slug": "tiramisu"}, headers=admin), 409, "conflict")
    assert client.patch("/api/products/1", json={"slug": "mousse-dau"}, headers=admin).status_code == 200
    assert_error(client.patch("/api/products/999", json={"name": "x"}, headers=admin), 404, "not_found")


def test_deactivate_and_reactivate(client, admin):
    off = client.patch("/api/products/3", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert client.get("/api/products/3").status_code == 404
    on = client.patch("/api/products/3", json={"active": True}, headers=admin)
    assert on.get_json()["active"] is True and client.get("/api/products/3").status_code == 200


def test_sizes_add_update_remove(client, admin):
    added = client.post("/api/products/1/sizes", json={"size": "24cm", "price": 210000}, headers=admin)
    assert added.status_code == 201
    size = added.get_json()
    assert size["size"] == "24cm" and size["price"] == 210000
    cheaper = client.patch(f"/api/products/1/sizes/{size['id']}", json={"price": 50000}, headers=admin)
    assert cheaper.get_json() == {"id": size["id"], "size": "24cm", "price": 50000}
    product = client.get("/api/products/1").get_json()
    assert product["minPrice"] == 50000 and product["sizes"][0]["size"] == "24cm"  # cheapest first
    renamed = client.patch(f"/api/products/1/sizes/{size['id']}", json={"size": "Mini"}, headers=admin)
    assert renamed.get_json()["size"] == "Mini"
    assert client.delete(f"/api/products/1/sizes/{size['id']}", headers=admin).status_code == 204
    assert [s["size"] for s in client.get("/api/products/1").get_json()["sizes"]] == ["12cm", "16cm", "20cm"]


def test_size_conflicts_and_unknowns(client, admin):
    assert_error(client.post("/api/products/1/sizes", json={"size": "12cm", "price": 1}, headers=admin),
                 409, "conflict")
    assert_error(client.patch("/api/products/1/sizes/1", json={"size": "16cm"}, headers=admin),
                 409, "conflict")
    # In any letter case: "12CM" beside "12cm" would read as one size at two prices.
    assert_error(client.post("/api/products/1/sizes", json={"size": "12CM", "price": 1}, headers=admin),
                 409, "conflict")
    assert_error(client.patch("/api/products/1/sizes/1", json={"size": "16CM"}, headers=admin),
                 409, "conflict")
    renamed = client.patch("/api/products/1/sizes/1", json={"size": "12CM"}, headers=admin)  # itself
    assert renamed.status_code == 200 and renamed.get_json()["size"] == "12CM"
    assert_error(client.post("/api/products/999/sizes", json={"size": "x", "price": 1}, headers=admin),
                 404, "not_found")
    # Size 4 belongs to product 2, not product 1.
    assert_error(client.patch("/api/products/1/sizes/4", json={"price": 1}, headers=admin), 404, "not_found")
    assert_error(client.delete("/api/products/1/sizes/4", headers=admin), 404, "not_found")


def test_accents_typed_apart_make_the_same_size_and_category(client, admin):
    """Some Vietnamese keyboards send "Hũ" as u + a combining tilde (NFD): it reads, and must count,
    as the same size or category as the precomposed one; what is stored is NFC."""
    hu, hu_apart = "Hũ", unicodedata.normalize("NFD", "Hũ")
    assert hu != hu_apart
    added = client.post("/api/products/1/sizes", json={"size": hu_apart, "price": 1000}, headers=admin)
    assert added.status_code == 201 and added.get_json()["size"] == hu
    for size in (hu, "HŨ", unicodedata.normalize("NFD", "HŨ")):
        assert_error(client.post("/api/products/1/sizes", json={"size": size, "price": 1}, headers=admin),
                     409, "conflict")
    assert_error(client.post("/api/products", headers=admin, json={
        "name": "Chè", "categoryId": 4, "sizes": [{"size": hu, "price": 1}, {"size": hu_apart, "price": 2}]}),
        422, "validation_error")
    kem = client.post("/api/categories", json={"name": unicodedata.normalize("NFD", "Bánh Kẹo")},
                      headers=admin)
    assert kem.status_code == 201 and kem.get_json()["name"] == "Bánh Kẹo"
    assert_error(client.post("/api/categories", json={"name": "bánh kẹo"}, headers=admin), 409, "conflict")
    assert_error(client.patch("/api/categories/1", json={"name": unicodedata.normalize("NFD", "Bánh Kẹo")},
                              headers=admin), 409, "conflict")
    [line] = client.post("/api/products/prices", json={"items": [{"productId": 1, "size": hu_apart}]}
                         ).get_json()["items"]
    assert (line["available"], line["price"]) == (True, 1000)


def test_a_doubled_space_makes_the_same_size(client, admin):
    added = client.post("/api/products/1/sizes", json={"size": "Hộp  6  cái", "price": 1000}, headers=admin)
    assert added.status_code == 201 and added.get_json()["size"] == "Hộp 6 cái"
    def add(size: str):
        return client.post("/api/products/1/sizes", json={"size": size, "price": 1}, headers=admin)

    for twin in ("hộp 6   cái", "Hộp\u00a06 cái", "Hộp\u3000 6\u2009cái"):  # no-break, ideographic, thin
        assert_error(add(twin), 409, "conflict")
    assert_error(add("Hộp\n6 cái"), 422, "validation_error")  # a line break is refused, not made a space


def test_a_products_last_size_cannot_be_removed(client, admin):
    [size] = client.get("/api/products/6").get_json()["sizes"]
    assert_error(client.delete(f"/api/products/6/sizes/{size['id']}", headers=admin), 409, "conflict")


@pytest.mark.parametrize("body, field", [
    ({"price": 0}, "price"), ({"price": -5}, "price"), ({"price": "abc"}, "price"),
    ({"price": 2**31}, "price"), ({"size": ""}, "size"), ({}, None), ({"price": None}, "price"),
])
def test_size_validation(client, admin, body, field):
    fields = error_fields(client.patch("/api/products/1/sizes/1", json=body, headers=admin))
    assert field is None or field in fields


def test_categories_create_update_delete(client, admin):
    created = client.post("/api/categories", json={"name": "Bánh Flan", "description": "Mềm"},
                          headers=admin)
    assert created.status_code == 201
    category = created.get_json()
    assert category["slug"] == "banh-flan" and category["productCount"] == 0
    updated = client.patch(f"/api/categories/{category['id']}", headers=admin,
                           json={"name": "Bánh Flan Caramel", "slug": "flan"})
    assert updated.get_json()["name"] == "Bánh Flan Caramel" and updated.get_json()["slug"] == "flan"
    assert client.delete(f"/api/categories/{category['id']}", headers=admin).status_code == 204
    assert "Bánh Flan Caramel" not in names(client.get("/api/categories"))


def test_category_names_and_slugs_are_unique(client, admin):
    for body in ({"name": "Tiramisu"}, {"name": "TIRAMISU"}, {"name": "Khác", "slug": "tiramisu"}):
        assert_error(client.post("/api/categories", json=body, headers=admin), 409, "conflict")
    assert_error(client.patch("/api/categories/1", json={"name": "bánh kem"}, headers=admin),
                 409, "conflict")
    # Renaming a category to its own name (another case) is fine.
    assert client.patch("/api/categories/1", json={"name": "Bánh MOUSSE"}, headers=admin).status_code == 200


def test_category_rename_is_searchable(client, admin):
    client.patch("/api/categories/4", json={"name": "Bánh Lò Nướng"}, headers=admin)
    assert sorted(names(client.get("/api/products/search?q=lo nuong"))) == [
        "Bánh Mì Ngọt Nhân Dừa", "Bánh So-co-la", "Bánh Sừng bò", "Bánh chuối So-co-la"]


def test_deleting_a_category_with_products_is_409(client, admin):
    error = assert_error(client.delete("/api/categories/1", headers=admin), 409, "conflict")
    assert error["details"] == {"productCount": 4}
    # Inactive products still belong to it.
    for product_id in (1, 8, 9, 10):
        client.patch(f"/api/products/{product_id}", json={"categoryId": 2}, headers=admin)
    client.patch("/api/products/1", json={"categoryId": 1, "active": False}, headers=admin)
    assert_error(client.delete("/api/categories/1", headers=admin), 409, "conflict")
    client.patch("/api/products/1", json={"categoryId": 2}, headers=admin)
    assert client.delete("/api/categories/1", headers=admin).status_code == 204


@pytest.mark.parametrize("body, field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"name": "?"}, "name"),
    ({"name": "Ok", "slug": "Bad Slug"}, "slug"), ({"name": "Ok", "description": "x" * 1001}, "description"),
    ({"name": ["Bánh"]}, "name"),
])
def test_category_validation(client, admin, body, field):
    assert field in error_fields(client.post("/api/categories", json=body, headers=admin))


@pytest.mark.parametrize("method, path, body, field", [
    ("post", "/api/categories", {"name": "Bánh\u0000 Flan"}, "name"),
    ("post", "/api/categories", {"name": "Bánh Flan", "description": "Mềm\u001b[31m"}, "description"),
    ("patch", "/api/products/1", {"name": "Mousse\u0007 Dâu"}, "name"),
    ("patch", "/api/products/1", {"description": "Dâu tươi\u007f"}, "description"),
    ("post", "/api/products/1/sizes", {"size": "24\u0000cm", "price": 210000}, "size"),
    ("patch", "/api/products/1/sizes/1", {"size": "12\ncm"}, "size"),
    # C1 controls (U+0080–U+009F) too; U+0085 is NEL, which is no line break a description may hold.
    ("patch", "/api/products/1", {"name": "QA\u0085\u0090x"}, "name"),
    ("patch", "/api/products/1", {"description": "Dâu tươi\u0085Ít ngọt"}, "description"),
    ("post", "/api/categories", {"name": "Bánh\u009b31m Flan"}, "name"),
    ("post", "/api/products/1/sizes", {"size": "24\u0080cm", "price": 210000}, "size"),
])
def test_control_characters_in_names_and_descriptions_are_refused(client, admin, method, path, body, field):
    """The kit's rule for free text (services/kit/text.py); a description may still span lines."""
    before = client.get("/api/products/1").get_json()
    assert field in error_fields(getattr(client, method)(path, json=body, headers=admin))
    assert client.get("/api/products/1").get_json() == before
    changed = client.patch("/api/products/1", json={"description": "Dâu tươi.\r\n\tÍt ngọt."}, headers=admin)
    assert changed.status_code == 200 and changed.get_json()["description"] == "Dâu tươi.\r\n\tÍt ngọt."


def test_unknown_category_is_404(client, admin):
    assert_error(client.patch("/api/categories/999", json={"name": "x"}, headers=admin), 404, "not_found")
    assert_error(client.delete("/api/categories/999", headers=admin), 404, "not_found")


def test_racing_size_removals_leave_one_size(app, tokens):
    """Two admins remove the two sizes of product 4 at once: one wins, the other gets 409."""
    sizes = [s["id"] for s in app.test_client().get("/api/products/4").get_json()["sizes"]]
    with live_server(app) as url:
        def remove(size_id):
            return requests.delete(f"{url}/api/products/4/sizes/{size_id}", timeout=30,
                                   headers=tokens.headers(1, "ADMIN")).status_code
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(remove, sizes))
        left = requests.get(f"{url}/api/products/4", timeout=5).json()["sizes"]
    assert statuses == [204, 409] and len(left) == 1

