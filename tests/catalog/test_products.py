"""Listing products: filters, sort, paging bounds, inactive products hidden, product detail."""

import pytest

from tests.catalog.conftest import CUSTOMER, error_fields, names
from tests.conftest import assert_error

TIRAMISUS = ["Tiramisu", "Tiramisu Dâu", "Tiramisu Hình Gấu", "Tiramisu Trái Cây"]


def test_default_listing_is_the_catalog_in_seed_order_with_sizes_and_min_price(client):
    body = client.get("/api/products").get_json()
    assert body["total"] == 16 and body["page"] == 1 and body["pageSize"] == 20
    assert [p["id"] for p in body["items"]] == list(range(1, 17))
    mousse = body["items"][0]
    assert mousse["name"] == "Mousse Dâu" and mousse["category"]["name"] == "Bánh Mousse"
    assert [(s["size"], s["price"]) for s in mousse["sizes"]] == [
        ("12cm", 90000), ("16cm", 120000), ("20cm", 160000)]
    assert mousse["minPrice"] == 90000
    assert mousse["imageUrl"] == "/api/images/mousse-dau.svg"
    assert mousse["active"] is True and mousse["slug"] == "mousse-dau"


@pytest.mark.parametrize("category", ["tiramisu", "2"])
def test_category_by_slug_or_id(client, category):
    assert sorted(names(client.get("/api/products", query_string={"category": category}))) == TIRAMISUS


@pytest.mark.parametrize("category", ["no-such-category", "999", "99999999999999999999"])
def test_unknown_category_finds_nothing(client, category):
    body = client.get("/api/products", query_string={"category": category}).get_json()
    assert body["items"] == [] and body["total"] == 0


def test_size_filter(client):
    assert sorted(names(client.get("/api/products?size=M"))) == [
        "Bánh So-co-la", "Bánh Sừng bò", "Bánh chuối So-co-la"]
    assert names(client.get("/api/products", query_string={"size": "Hộp 6 cái"})) == [
        "Bánh Mì Ngọt Nhân Dừa"]
    assert names(client.get("/api/products?size=30cm")) == []


def test_price_range_matches_when_any_size_is_in_range(client):
    assert sorted(names(client.get("/api/products?minPrice=100000&maxPrice=110000"))) == TIRAMISUS
    assert names(client.get("/api/products?maxPrice=20000")) == ["Bánh Mì Ngọt Nhân Dừa"]
    assert client.get("/api/products?minPrice=180000").get_json()["total"] == 3  # 20cm at 190,000


def test_size_and_price_range_constrain_the_same_size(client):
    assert sorted(names(client.get("/api/products?size=12cm&maxPrice=85000"))) == [
        "Bánh Kem Bươm Bướm", "Bánh Kem Bắp", "Bánh Kem Lãn Mạn", "Bánh Kem Nho Xanh"]
    # Their 20cm sizes cost 170,000, but no 12cm cake costs that much.
    assert names(client.get("/api/products?size=12cm&minPrice=150000")) == []


def test_filters_combine(client):
    response = client.get("/api/products", query_string={"category": "banh-nuong", "size": "M",
                                                          "maxPrice": 40000, "sort": "name"})
    assert names(response) == ["Bánh So-co-la", "Bánh Sừng bò"]


def test_sort_by_price_uses_the_lowest_size_price(client):
    ascending = client.get("/api/products?sort=price&pageSize=100").get_json()["items"]
    prices = [p["minPrice"] for p in ascending]
    assert prices == sorted(prices) and ascending[0]["name"] == "Bánh Mì Ngọt Nhân Dừa"
    descending = client.get("/api/products?sort=-price&pageSize=100").get_json()["items"]
    assert [p["minPrice"] for p in descending] == sorted(prices, reverse=True)


def test_sort_by_name_ignores_accents_and_case(client):
    listed = names(client.get("/api/products?sort=name&pageSize=100"))
    assert listed[:3] == ["Bánh chuối So-co-la", "Bánh Kem Bắp", "Bánh Kem Bươm Bướm"]
    assert names(client.get("/api/products?sort=-name&pageSize=100")) == list(reversed(listed))


def test_sort_newest_first(client, admin):
    created = client.post("/api/products", headers=admin, json={
        "name": "Bánh Flan", "categoryId": 4, "sizes": [{"size": "Hũ", "price": 20000}]})
    assert created.status_code == 201
    assert names(client.get("/api/products?sort=newest"))[0] == "Bánh Flan"


def test_paging(client):
    first = client.get("/api/products?pageSize=5").get_json()
    second = client.get("/api/products?pageSize=5&page=2").get_json()
    last = client.get("/api/products?pageSize=5&page=4").get_json()
    beyond = client.get("/api/products?pageSize=5&page=5").get_json()
    assert [p["id"] for p in first["items"]] == [1, 2, 3, 4, 5]
    assert [p["id"] for p in second["items"]] == [6, 7, 8, 9, 10]
    assert [p["id"] for p in last["items"]] == [16]
    assert beyond["items"] == [] and beyond["total"] == 16 and beyond["page"] == 5
    assert client.get("/api/products?pageSize=100").get_json()["pageSize"] == 100


@pytest.mark.parametrize("query, field", [
    ("pageSize=101", "pageSize"), ("pageSize=0", "pageSize"), ("pageSize=-1", "pageSize"),
    ("page=0", "page"), ("page=-3", "page"), ("page=abc", "page"), ("page=1.5", "page"),
    ("page=100001", "page"), ("pageSize=99999999999999999999", "pageSize"),
    ("minPrice=-1", "minPrice"), ("maxPrice=abc", "maxPrice"), ("minPrice=10000000000", "minPrice"),
    ("sort=cheapest", "sort"), ("size=" + "x" * 21, "size"), ("q=", "q"), ("q=%20%20", "q"),
    ("q=!!!", "q"), ("q=" + "a" * 101, "q"), ("includeInactive=maybe", "includeInactive"),
    ("colour=red", "colour"), ("category=", "category"), ("q=dau%01", "q"), ("q=dau%C2%9B", "q"),
    # Control characters, refused as in free text (PostgreSQL refused a NUL with a 500).
    ("category=%00", "category"), ("category=tira%00misu", "category"), ("category=2%1B", "category"),
    ("category=banh%C2%9B", "category"),
])
def test_bad_query_parameters_are_422(client, query, field):
    assert error_fields(client.get(f"/api/products?{query}")) == {field}


def test_min_price_above_max_price_is_422(client):
    error = assert_error(client.get("/api/products?minPrice=5&maxPrice=4"), 422, "validation_error")
    assert "minPrice" in error["details"][0]["message"]
    assert error_fields(client.get("/api/products?minPrice=5&maxPrice=4&q=banh")) == {"maxPrice"}


def test_sort_by_relevance_without_a_query_is_catalog_order(client):
    assert [p["id"] for p in client.get("/api/products?sort=relevance&pageSize=3").get_json()["items"]] == [
        1, 2, 3]


def test_inactive_products_are_hidden_from_shoppers(client, admin, auth):
    assert client.patch("/api/products/1", headers=admin, json={"active": False}).status_code == 200
    listed = client.get("/api/products?pageSize=100").get_json()
    assert listed["total"] == 15 and "Mousse Dâu" not in [p["name"] for p in listed["items"]]
    assert "Mousse Dâu" not in names(client.get("/api/products/search?q=mousse"))
    assert "Mousse Dâu" not in names(client.get("/api/products?category=banh-mousse"))
    assert_error(client.get("/api/products/1"), 404, "not_found")
    assert_error(client.get("/api/products/1", headers=auth(CUSTOMER)), 404, "not_found")
    counts = {c["name"]: c["productCount"] for c in client.get("/api/categories").get_json()["items"]}
    assert counts["Bánh Mousse"] == 3


def test_admins_may_list_and_read_inactive_products(client, admin):
    client.patch("/api/products/1", headers=admin, json={"active": False})
    listed = client.get("/api/products?includeInactive=true&pageSize=100", headers=admin).get_json()
    assert listed["total"] == 16
    assert [p["active"] for p in listed["items"] if p["id"] == 1] == [False]
    detail = client.get("/api/products/1", headers=admin)
    assert detail.status_code == 200 and detail.get_json()["active"] is False
    counts = client.get("/api/categories?includeInactive=true", headers=admin).get_json()["items"]
    assert {c["name"]: c["productCount"] for c in counts}["Bánh Mousse"] == 4
    # Without the flag an admin sees what shoppers see.
    assert client.get("/api/products", headers=admin).get_json()["total"] == 15


@pytest.mark.parametrize("path", ["/api/products?includeInactive=true",
                                  "/api/categories?includeInactive=true"])
def test_include_inactive_is_for_admins_only(client, auth, tokens, path):
    assert_error(client.get(path), 401, "unauthorized")
    assert_error(client.get(path, headers=auth(CUSTOMER)), 403, "forbidden")
    expired = {"Authorization": f"Bearer {tokens.token(1, 'ADMIN', exp=1)}"}
    assert_error(client.get(path, headers=expired), 401, "token_expired")


def test_a_bad_token_on_a_public_read_is_just_an_anonymous_shopper(client):
    response = client.get("/api/products", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 200 and response.get_json()["total"] == 16


def test_product_detail(client):
    body = client.get("/api/products/4").get_json()
    assert body["name"] == "Bánh Mì Ngọt Nhân Dừa" and body["category"]["slug"] == "banh-nuong"
    assert [(s["size"], s["price"]) for s in body["sizes"]] == [("1 cái", 15000), ("Hộp 6 cái", 80000)]
    assert body["minPrice"] == 15000


@pytest.mark.parametrize("path", ["/api/products/999", "/api/products/0", "/api/products/2147483648",
                                  "/api/products/99999999999999999999", "/api/products/abc",
                                  "/api/products/-1"])
def test_unknown_product_is_404(client, path):
    assert_error(client.get(path), 404, "not_found")


def test_categories_with_product_counts(client):
    body = client.get("/api/categories").get_json()
    assert [(c["name"], c["slug"], c["productCount"]) for c in body["items"]] == [
        ("Bánh Kem", "banh-kem", 4), ("Bánh Mousse", "banh-mousse", 4),
        ("Bánh Nướng", "banh-nuong", 4), ("Tiramisu", "tiramisu", 4)]


# ---- size choices (the storefront's size filter) -----------------------------------------------

def sizes(response) -> list[tuple[str, int]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(item["size"], item["productCount"]) for item in response.get_json()["items"]]


def test_sizes_lists_every_size_on_sale_in_natural_order(client):
    assert sizes(client.get("/api/products/sizes")) == [
        ("1 cái", 1), ("12cm", 11), ("16cm", 11), ("20cm", 11), ("Hộp 6 cái", 1), ("Lớn", 1),
        ("M", 3), ("Nhỏ", 1)]


@pytest.mark.parametrize("category", ["tiramisu", "2"])
def test_sizes_within_a_category_or_a_search(client, category):
    assert sizes(client.get("/api/products/sizes", query_string={"category": category})) == [
        ("12cm", 3), ("16cm", 3), ("20cm", 3), ("Lớn", 1), ("Nhỏ", 1)]
    assert sizes(client.get("/api/products/sizes?q=socola")) == [("M", 2)]
    assert sizes(client.get("/api/products/sizes?q=banh&category=banh-nuong")) == [
        ("1 cái", 1), ("Hộp 6 cái", 1), ("M", 3)]
    assert sizes(client.get("/api/products/sizes?category=no-such-category")) == []


def test_sizes_follow_admin_edits_and_hide_inactive_products(client, admin):
    assert client.get("/api/products/sizes").status_code == 200  # now in the read cache
    assert client.patch("/api/products/15", headers=admin, json={"active": False}).status_code == 200
    assert client.post("/api/products/4/sizes", headers=admin,
                       json={"size": "8cm", "price": 50000}).status_code == 201
    listed = sizes(client.get("/api/products/sizes"))
    assert ("Nhỏ", 1) not in listed and ("Lớn", 1) not in listed  # Tiramisu's, now inactive
    assert listed[:2] == [("1 cái", 1), ("8cm", 1)]  # 8cm before 12cm


@pytest.mark.parametrize("query, field", [
    ("q=!!!", "q"), ("q=" + "a" * 101, "q"), ("category=", "category"),
    ("category=" + "x" * 121, "category"), ("size=12cm", "size"), ("page=2", "page"),
    ("category=%00", "category"), ("category=tira%00misu", "category"),
])
def test_sizes_bad_query_parameters_are_422(client, query, field):
    assert error_fields(client.get(f"/api/products/sizes?{query}")) == {field}


def test_sizes_are_cacheable_and_documented(client):
    first = client.get("/api/products/sizes?category=tiramisu")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get("/api/products/sizes?category=tiramisu",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/api/products/sizes"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"category", "q"}
    assert "SizeChoiceList" in str(operation["responses"]["200"])


def test_a_patch_that_needs_one_field_documents_its_body_as_required(client, admin):
    """Its fields are each optional, but an empty change is refused, so the body is required."""
    operation = client.get("/openapi.json").get_json()["paths"]["/api/products/{product_id}"]["patch"]
    assert operation["requestBody"]["required"] is True
    assert client.patch("/api/products/1", headers=admin).status_code == 422
