"""A search the catalog refuses (no letter or digit: "🍰", "%", "--") shows no results and is
recorded as a Product Search that found nothing, once, with the same user and session as the
catalog's own search events; a search the catalog accepts is recorded by the catalog alone."""

from __future__ import annotations

import uuid

from tests.conftest import read_events

from .helpers import Browserless

REFUSED = ["🍰", "%", "--"]


def _searches(stack, session_id: str) -> list[dict]:
    return [event for event in read_events(stack.event_log, "Product Search")
            if event["sessionId"] == session_id]


def test_searches_the_catalog_refuses_are_recorded_once_as_finding_nothing(stack):
    shopper = stack.register(name="Khách Tìm Bánh")
    browser = Browserless(stack.url)
    browser.login(shopper["email"], shopper["password"])
    accepted = f"bánh kem 🍰 {uuid.uuid4().hex[:8]}"
    assert browser.get("/products", params={"q": accepted}).status_code == 200
    [by_catalog] = [event for event in read_events(stack.event_log, "Product Search")
                    if event["properties"]["searchQuery"] == accepted]
    assert by_catalog["service"] == "catalog" and by_catalog["userId"] == str(shopper["user"]["id"])
    session_id = by_catalog["sessionId"]
    assert session_id

    for query in REFUSED:
        page = browser.get("/products", params={"q": query})
        assert page.status_code == 200 and 'class="card product-card"' not in page.text
        # The same search's next page, narrowed or sorted, is not a new search.
        assert browser.get("/products", params={"q": query, "sort": "price"}).status_code == 200
        assert browser.get("/products", params={"q": query, "size": "12cm"}).status_code == 200

    recorded = _searches(stack, session_id)
    assert [event["properties"] for event in recorded] == [
        {"searchQuery": accepted, "resultsCount": 0},
        *({"searchQuery": query, "resultsCount": 0} for query in REFUSED)]
    for event in recorded[1:]:
        assert (event["service"], event["userId"], event["sessionId"], event["type"]) == (
            "storefront", by_catalog["userId"], session_id, "user_action")
        assert event["requestId"] and event["eventId"]


def test_an_admins_refused_search_is_not_recorded(stack, admin):
    before = len(read_events(stack.event_log, "Product Search"))
    assert admin.get("/products", params={"q": "🍰"}).status_code == 200
    assert len(read_events(stack.event_log, "Product Search")) == before


def test_a_search_refused_for_a_control_character_is_not_recorded(stack):
    browser = Browserless(stack.url)
    before = len(read_events(stack.event_log, "Product Search"))
    for query in ("tiramisu\x01", "bánh\x1b[2J", "bánh\x85kem"):
        assert browser.get("/products", params={"q": query}).status_code == 200
    assert len(read_events(stack.event_log, "Product Search")) == before
