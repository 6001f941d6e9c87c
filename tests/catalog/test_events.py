"""Each catalog event carries the envelope and the properties DESIGN.md lists for it."""

from services.kit.events import ENVELOPE_FIELDS, EVENT_PROPERTIES
from tests.catalog.conftest import CUSTOMER
from tests.conftest import read_events


def assert_event(event: dict, name: str, properties: dict) -> None:
    assert tuple(event) == ENVELOPE_FIELDS
    assert event["type"] == "user_action" and event["event"] == name and event["service"] == "catalog"
    assert set(EVENT_PROPERTIES[name]) <= set(event["properties"])
    assert event["properties"] == properties
    assert event["requestId"] and event["eventId"] and event["timestamp"].endswith("Z")


def test_product_viewed(client, auth, events_file):
    client.get("/api/products/1", headers=auth(CUSTOMER, **{"X-Session-Id": "sess-1"}))
    [event] = read_events(events_file, "Product Viewed")
    assert_event(event, "Product Viewed", {"productId": 1, "productName": "Mousse Dâu", "price": 90000,
                                           "category": "Bánh Mousse"})
    assert event["userId"] == str(CUSTOMER) and event["sessionId"] == "sess-1"


def test_product_viewed_anonymously_and_not_for_unknown_products(client, events_file):
    client.get("/api/products/4")
    client.get("/api/products/999")
    [event] = read_events(events_file, "Product Viewed")
    assert event["userId"] is None and event["properties"]["price"] == 15000  # the cheapest size


def test_a_head_request_counts_no_view_and_leaves_the_next_get_counted(client, events_file):
    """A HEAD (a link checker, a probe) shows nobody the product; the GET after it, answered from
    the read cache the HEAD filled, is still a view."""
    assert client.head("/api/products/2").status_code == 200
    assert client.head("/api/products/2").status_code == 200  # from the read cache
    assert read_events(events_file, "Product Viewed") == []
    client.get("/api/products/2")
    assert len(read_events(events_file, "Product Viewed")) == 1


def test_a_view_the_caller_counts_itself_is_not_counted_here(client, events_file):
    """`countView=false`: the storefront's product page, which counts the view itself. Its cached
    answer does not stop the next ordinary read from counting."""
    assert client.get("/api/products/3?countView=false").status_code == 200
    assert client.get("/api/products/3?countView=false").status_code == 200  # from the read cache
    assert read_events(events_file, "Product Viewed") == []
    assert client.get("/api/products/3").status_code == 200
    assert len(read_events(events_file, "Product Viewed")) == 1
    wrong = client.get("/api/products/3?countView=maybe")
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "validation_error"


def test_product_search(client, events_file):
    client.get("/api/products/search?q=Dâu", headers={"X-Session-Id": "sess-2"})
    client.get("/api/products/search?q=xyz")
    client.get("/api/products/search?q=Dâu&page=2")  # the same search, next page: no new event
    found, nothing = read_events(events_file, "Product Search")
    assert_event(found, "Product Search", {"searchQuery": "Dâu", "resultsCount": 3})
    assert found["sessionId"] == "sess-2"
    assert nothing["properties"] == {"searchQuery": "xyz", "resultsCount": 0}


def test_listing_with_q_is_a_search_too(client, admin, events_file):
    client.get("/api/products?q=banh kem&category=banh-kem")
    client.get("/api/products?category=banh-kem")
    client.get("/api/products?q=banh&includeInactive=true", headers=admin)  # an admin's lookup
    [event] = read_events(events_file, "Product Search")
    assert event["properties"] == {"searchQuery": "banh kem", "resultsCount": 4}


def test_narrowing_or_sorting_a_search_is_not_another_search(client, events_file):
    client.get("/api/products?q=mousse")
    client.get("/api/products?q=mousse&maxPrice=1000")  # nothing that cheap: the words still found
    client.get("/api/products?q=mousse&minPrice=1")
    client.get("/api/products?q=mousse&size=16cm")
    client.get("/api/products?q=mousse&sort=price")
    [event] = read_events(events_file, "Product Search")
    assert event["properties"]["searchQuery"] == "mousse" and event["properties"]["resultsCount"] > 0


def test_add_to_cart(client, auth, events_file):
    client.post("/api/cart", headers=auth(CUSTOMER, **{"X-Session-Id": "sess-3"}),
                json={"productId": 4, "size": "Hộp 6 cái", "quantity": 2})
    client.post("/api/cart", headers=auth(CUSTOMER), json={"productId": 4, "size": "12cm"})  # 422
    [event] = read_events(events_file, "Add to Cart")
    assert_event(event, "Add to Cart", {"productId": 4, "quantity": 2, "size": "Hộp 6 cái",
                                        "price": 80000})
    assert event["userId"] == str(CUSTOMER) and event["sessionId"] == "sess-3"


def test_events_go_to_stdout_as_json_lines(client, capsys):
    client.get("/api/products/2")
    lines = [line for line in capsys.readouterr().out.splitlines() if '"user_action"' in line]
    assert len(lines) == 1 and '"event":"Product Viewed"' in lines[0]


def test_admins_reads_are_not_shopper_events(client, admin, events_file):
    client.get("/api/products/1", headers=admin)
    client.get("/api/products/search?q=banh", headers=admin)
    client.get("/api/products?q=dau", headers=admin)
    assert read_events(events_file) == []
