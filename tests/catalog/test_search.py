"""Search the way a Vietnamese shopper types: without accents, any case, partial words, by relevance."""

import pytest

from services.catalog.search import slugify
from services.kit.text import normalize, tokens
from tests.catalog.conftest import error_fields, names
from tests.conftest import assert_error

BANH_KEM = ["Bánh Kem Bắp", "Bánh Kem Bươm Bướm", "Bánh Kem Lãn Mạn", "Bánh Kem Nho Xanh"]
DAU = ["Mousse Dâu", "Mousse Mãng Cầu Dâu", "Tiramisu Dâu"]


@pytest.mark.parametrize("text, expected", [
    ("Bánh Kem Bắp", "banh kem bap"),
    ("MOUSSE DÂU", "mousse dau"),
    ("Đậu đỏ", "dau do"),
    ("Bánh chuối So-co-la!", "banh chuoi so co la"),
    ("  Hộp   6 cái ", "hop 6 cai"),
    ("Phở\u0301", "pho"),  # a stray combining accent
    ("", ""),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_nfc_and_nfd_input_normalise_alike():
    import unicodedata
    word = "Bưởi Thanh Trà"
    assert normalize(unicodedata.normalize("NFD", word)) == normalize(unicodedata.normalize("NFC", word))


def test_tokens_are_distinct_longest_first_and_slugs_are_ascii():
    assert tokens("kem BÁNH kem") == ["banh", "kem"]
    assert slugify("Tiramisu Hình Gấu") == "tiramisu-hinh-gau"


@pytest.mark.parametrize("query", ["banh kem", "Bánh Kem", "BANH KEM", "bÁnH kEm", "  banh   kem  "])
def test_accent_and_case_insensitive(client, query):
    assert names(client.get("/api/products/search", query_string={"q": query})) == BANH_KEM


@pytest.mark.parametrize("query", ["dau", "Dâu", "DÂU", "dâu"])
def test_dau_finds_every_strawberry_cake(client, query):
    assert sorted(names(client.get("/api/products/search", query_string={"q": query}))) == DAU


def test_d_with_stroke_matches_plain_d(client, admin):
    created = client.post("/api/products", headers=admin, json={
        "name": "Chè Đậu Đỏ", "categoryId": 4, "sizes": [{"size": "Ly", "price": 25000}]})
    assert created.status_code == 201
    assert names(client.get("/api/products/search?q=che dau do")) == ["Chè Đậu Đỏ"]
    assert names(client.get("/api/products/search", query_string={"q": "ĐẬU ĐỎ"})) == ["Chè Đậu Đỏ"]


@pytest.mark.parametrize("query, expected", [
    ("tira", ["Tiramisu", "Tiramisu Dâu", "Tiramisu Hình Gấu", "Tiramisu Trái Cây"]),
    ("buom", ["Bánh Kem Bươm Bướm"]),
    ("mousse bu", ["Mousse Bưởi Thanh Trà"]),
    ("socola", ["Bánh So-co-la", "Bánh chuối So-co-la"]),  # the shop writes it "So-co-la"
    ("sung b", ["Bánh Sừng bò"]),
])
def test_partial_words(client, query, expected):
    assert sorted(names(client.get("/api/products/search", query_string={"q": query}))) == expected


def test_relevance_exact_then_prefix_then_name_then_category_then_description(client, admin):
    for name, description in [("Dâu", "Chỉ có dâu."), ("Dâu Tây Ngọt", ""),
                              ("Bánh Quy", "Nhân mứt dâu.")]:
        assert client.post("/api/products", headers=admin, json={
            "name": name, "description": description, "categoryId": 4,
            "sizes": [{"size": "M", "price": 10000}]}).status_code == 201
    found = names(client.get("/api/products/search?q=dau"))
    assert found[0] == "Dâu"  # the name is the query
    assert found[1] == "Dâu Tây Ngọt"  # the name starts with it
    assert set(found[2:5]) == set(DAU)  # the name contains it
    assert found[5:] == ["Bánh Quy"]  # only the description mentions it


def test_words_in_any_order_rank_below_the_phrase(client):
    assert names(client.get("/api/products/search?q=kem banh"))[:4] == BANH_KEM
    # "kem" alone also finds the cakes whose description mentions cream.
    found = names(client.get("/api/products/search?q=kem"))
    assert found[:4] == BANH_KEM and "Tiramisu Dâu" in found[4:]


def test_category_words_count(client):
    assert sorted(names(client.get("/api/products/search?q=nuong socola"))) == [
        "Bánh So-co-la", "Bánh chuối So-co-la"]


def test_every_word_must_match(client):
    assert names(client.get("/api/products/search?q=mousse tiramisu")) == []
    assert names(client.get("/api/products/search?q=xyz")) == []


def test_search_pages_and_reports_the_query(client):
    body = client.get("/api/products/search?q=banh&pageSize=2&page=2").get_json()
    assert body["query"] == "banh" and body["page"] == 2 and body["pageSize"] == 2
    assert body["total"] >= 10 and len(body["items"]) == 2


def test_listing_accepts_q_with_filters(client):
    assert names(client.get("/api/products?q=dau&category=tiramisu")) == ["Tiramisu Dâu"]
    assert names(client.get("/api/products?q=dau&sort=-price"))[0] == "Tiramisu Dâu"


def test_like_wildcards_in_a_query_match_nothing_special(client):
    assert sorted(names(client.get("/api/products/search", query_string={"q": "dâu%"}))) == DAU
    assert normalize("50%_off\\") == "50 off"  # no wildcard or escape ever reaches LIKE
    assert_error(client.get("/api/products/search", query_string={"q": "%_%"}), 422, "validation_error")


@pytest.mark.parametrize("query", ["", "q=", "q=%20", "q=---", "q=" + "a" * 101, "q=x&page=0",
                                   "q=x&pageSize=101", "q=x&extra=1"])
def test_bad_search_is_422(client, query):
    assert_error(client.get(f"/api/products/search?{query}"), 422, "validation_error")


def test_missing_q_names_the_field(client):
    assert error_fields(client.get("/api/products/search")) == {"q"}
