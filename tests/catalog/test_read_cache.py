"""The per-process read cache: shoppers' repeated reads skip the database, admin writes show at
once, events are still counted per request, and the TTL bounds how stale another worker can be."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event

from tests.conftest import read_events

READS = ["/api/products", "/api/products?sort=price&pageSize=5", "/api/products/1",
         "/api/products/search?q=banh%20kem", "/api/categories"]


@pytest.fixture
def queries():
    """Counts the SQL statements an app sends."""
    def watch(app) -> list[str]:
        seen: list[str] = []

        @event.listens_for(app.extensions["db"].engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, *_args):
            seen.append(statement)
        return seen
    return watch


@pytest.mark.parametrize("path", READS)
def test_a_repeated_shopper_read_is_served_without_the_database(make_app, queries, path):
    app = make_app(read_cache_seconds=30)
    client = app.test_client()
    first = client.get(path)
    assert first.status_code == 200
    sent = queries(app)
    again = client.get(path)
    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert sent == []


def test_events_are_still_emitted_for_every_cached_read(make_app, events_file):
    client = make_app(read_cache_seconds=30).test_client()
    for _ in range(3):
        assert client.get("/api/products/1").status_code == 200
        assert client.get("/api/products/search?q=dau").status_code == 200
    viewed = read_events(events_file, "Product Viewed")
    searched = read_events(events_file, "Product Search")
    assert len(viewed) == 3 and len(searched) == 3
    assert {e["properties"]["productId"] for e in viewed} == {1}
    assert len({e["properties"]["resultsCount"] for e in searched}) == 1


def test_an_admin_write_shows_to_shoppers_at_once(make_app, admin):
    client = make_app(read_cache_seconds=30).test_client()
    assert client.get("/api/products/1").get_json()["name"] != "Mousse Dâu Tây"
    before = client.get("/api/products?pageSize=100").get_json()
    response = client.patch("/api/products/1", headers=admin, json={"name": "Mousse Dâu Tây"})
    assert response.status_code == 200
    assert client.get("/api/products/1").get_json()["name"] == "Mousse Dâu Tây"
    after = client.get("/api/products?pageSize=100").get_json()
    assert "Mousse Dâu Tây" in {p["name"] for p in after["items"]}
    assert after != before


def test_a_shopper_cart_does_not_clear_the_cache(make_app, auth, queries):
    app = make_app(read_cache_seconds=30)
    client = app.test_client()
    size = client.get("/api/products/1").get_json()["sizes"][0]["size"]
    response = client.post("/api/cart", headers=auth(7), json={"productId": 1, "size": size, "quantity": 1})
    assert response.status_code in (200, 201)
    sent = queries(app)
    assert client.get("/api/products/1").status_code == 200
    assert sent == []


def test_admin_reads_of_inactive_products_bypass_the_cache(make_app, admin, queries):
    app = make_app(read_cache_seconds=30)
    client = app.test_client()
    client.get("/api/products?includeInactive=true", headers=admin)
    sent = queries(app)
    client.get("/api/products?includeInactive=true", headers=admin)
    assert sent != []


def test_entries_expire_after_the_ttl(make_app, queries):
    app = make_app(read_cache_seconds=0.2)
    client = app.test_client()
    client.get("/api/products")
    sent = queries(app)
    time.sleep(0.3)
    client.get("/api/products")
    assert sent != []


def test_zero_turns_the_cache_off(make_app, queries):
    app = make_app(read_cache_seconds=0)
    client = app.test_client()
    client.get("/api/products")
    sent = queries(app)
    client.get("/api/products")
    assert sent != []


def test_the_cache_is_bounded_least_recently_used_out_first():
    from services.catalog.readcache import ReadCache

    cache, builds = ReadCache(60, max_entries=2), []

    def build(key):
        return lambda: builds.append(key) or key

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(key, build(key))
    assert builds == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" arrived
    assert len(cache) == 2


def test_errors_are_answered_but_never_kept(make_app, queries):
    app = make_app(read_cache_seconds=30)
    client = app.test_client()
    for _ in range(2):
        assert client.get("/api/products?pageSize=1000").status_code == 422
        assert client.get("/api/products/999").status_code == 404
    sent = queries(app)
    assert client.get("/api/products/999").status_code == 404
    assert sent != []  # a miss is asked again, not remembered


def test_a_cached_read_is_counted_for_the_shopper_reading_it(make_app, auth, events_file):
    client = make_app(read_cache_seconds=30).test_client()
    client.get("/api/products/2", headers=auth(41))
    client.get("/api/products/2", headers=auth(42))
    client.get("/api/products/2")
    viewed = read_events(events_file, "Product Viewed")
    assert [e["userId"] for e in viewed] == ["41", "42", None]
