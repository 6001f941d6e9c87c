"""`expectedStatus`: a status change or cancel decided on a page that showed one status does not
apply to an order that has another by then (another admin, another tab, a stale page)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_error, live_server

from .conftest import ADMIN, CUSTOMER, row_counts
from .test_status_flow import _race

STATUS, CANCEL = "/api/orders/{}/status", "/api/orders/{}/cancel"


def _admin_to_processing(client, auth, order: dict) -> None:
    response = client.patch(STATUS.format(order["id"]), json={"status": "PROCESSING"},
                            headers=auth(ADMIN, "ADMIN"))
    assert response.status_code == 200, response.get_json()


def _history(client, auth, order: dict) -> list[tuple]:
    found = client.get(f"/api/orders/{order['id']}", headers=auth(ADMIN, "ADMIN")).get_json()
    return [(h["fromStatus"], h["toStatus"], h["actorId"]) for h in found["statusHistory"]]


def test_a_status_change_expecting_the_current_status_applies(client, auth, place):
    order = place()
    response = client.patch(STATUS.format(order["id"]),
                            json={"status": "PROCESSING", "expectedStatus": "PENDING"},
                            headers=auth(ADMIN, "ADMIN"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "PROCESSING"


@pytest.mark.parametrize("caller", [(CUSTOMER, "CUSTOMER"), (ADMIN, "ADMIN")])
def test_a_cancel_expecting_the_current_status_applies(client, auth, place, caller):
    order = place()
    response = client.post(CANCEL.format(order["id"]), json={"expectedStatus": "PENDING"},
                           headers=auth(*caller))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["statusHistory"][-1]["fromStatus"] == "PENDING"


def test_a_status_change_on_an_order_changed_meanwhile_is_409_and_writes_nothing(app, client, auth,
                                                                               place):
    """The QA case: one admin moved the order to PROCESSING; another, still seeing PENDING, cancels."""
    order = place()
    _admin_to_processing(client, auth, order)
    before, counts = _history(client, auth, order), row_counts(app)
    response = client.patch(STATUS.format(order["id"]),
                            json={"status": "CANCELLED", "expectedStatus": "PENDING"},
                            headers=auth(ADMIN, "ADMIN"))
    error = assert_error(response, 409, "status_changed")
    assert "meanwhile" in error["message"] and "reload" in error["message"]
    assert error["details"] == {"currentStatus": "PROCESSING", "expectedStatus": "PENDING",
                                "allowedNextStatuses": ["SHIPPED", "CANCELLED"]}
    assert _history(client, auth, order) == before and row_counts(app) == counts


@pytest.mark.parametrize("caller, allowed", [((CUSTOMER, "CUSTOMER"), []),
                                             ((ADMIN, "ADMIN"), ["SHIPPED", "CANCELLED"])])
def test_a_cancel_on_an_order_changed_meanwhile_is_409_and_writes_nothing(app, client, auth, place,
                                                                        caller, allowed):
    order = place()
    _admin_to_processing(client, auth, order)
    before, counts = _history(client, auth, order), row_counts(app)
    response = client.post(CANCEL.format(order["id"]), json={"expectedStatus": "PENDING"},
                           headers=auth(*caller))
    error = assert_error(response, 409, "status_changed")
    assert error["details"] == {"currentStatus": "PROCESSING", "expectedStatus": "PENDING",
                                "allowedNextStatuses": allowed}
    assert _history(client, auth, order) == before and row_counts(app) == counts


def test_without_expected_status_the_change_applies_as_before(client, auth, place):
    """Existing clients: no expectedStatus, no check (an admin may still cancel a PROCESSING order)."""
    order = place()
    _admin_to_processing(client, auth, order)
    cancelled = client.post(CANCEL.format(order["id"]), headers=auth(ADMIN, "ADMIN"))
    assert cancelled.status_code == 200, cancelled.get_json()
    assert [h[1] for h in _history(client, auth, order)] == ["PENDING", "PROCESSING", "CANCELLED"]
    owner = place()
    for body in (None, {}, {"expectedStatus": None}):
        response = client.post(CANCEL.format(owner["id"]), json=body, headers=auth(CUSTOMER))
        if response.status_code == 409:  # cancelled by an earlier body of this loop
            assert_error(response, 409, "invalid_transition")
        else:
            assert response.status_code == 200, response.get_json()


def test_a_stale_expected_status_is_checked_before_the_transition(client, auth, place):
    """A page that showed PENDING asks for PROCESSING of a cancelled order: the order changed, not
    'an invalid step'; the page should reload."""
    order = place()
    assert client.post(CANCEL.format(order["id"]), headers=auth(CUSTOMER)).status_code == 200
    response = client.patch(STATUS.format(order["id"]),
                            json={"status": "PROCESSING", "expectedStatus": "PENDING"},
                            headers=auth(ADMIN, "ADMIN"))
    error = assert_error(response, 409, "status_changed")
    assert error["details"]["currentStatus"] == "CANCELLED"
    assert error["details"]["allowedNextStatuses"] == []


@pytest.mark.parametrize("extra", [{"expectedStatus": "LOST"}, {"expectedStatus": "pending"},
                                   {"expectedStatus": 1}, {"expectedStatus": ["PENDING"]},
                                   {"expectedStatus": ""}, {"expectedStatus": "PENDING", "x": 1},
                                   [], 0, False, ""])  # not an object: no "no body" to cancel with
def test_bad_expected_status_is_422_and_writes_nothing(app, client, auth, place, extra):
    order = place()
    counts = row_counts(app)
    if isinstance(extra, dict):
        patched = client.patch(STATUS.format(order["id"]), json={"status": "PROCESSING", **extra},
                               headers=auth(ADMIN, "ADMIN"))
        assert_error(patched, 422, "validation_error")
    # As text: the test client would send no body at all for a falsy `json=`.
    cancelled = client.post(CANCEL.format(order["id"]), data=json.dumps(extra),
                            content_type="application/json", headers=auth(CUSTOMER))
    assert_error(cancelled, 422, "validation_error")
    assert row_counts(app) == counts
    assert _history(client, auth, order) == [(None, "PENDING", CUSTOMER)]


def test_openapi_documents_expected_status(client):
    spec = client.get("/openapi.json").get_json()
    paths, schemas = spec["paths"], spec["components"]["schemas"]
    for path, method in (("/api/orders/{order_id}/status", "patch"),
                         ("/api/orders/{order_id}/cancel", "post")):
        operation = paths[path][method]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schemas[ref.rsplit("/", 1)[1]]
        assert "expectedStatus" in body["properties"] and "expectedStatus" not in body.get("required", [])
        assert {"409", "422"} <= set(operation["responses"])
    # Cancel's body may be left out (a cancel without the check); the others name what they change.
    assert paths["/api/orders/{order_id}/cancel"]["post"]["requestBody"]["required"] is False
    assert paths["/api/orders/{order_id}/status"]["patch"]["requestBody"]["required"] is True
    assert paths["/api/orders"]["post"]["requestBody"]["required"] is True
    assert {"400", "413", "415"} <= set(paths["/api/orders"]["post"]["responses"])  # as every body


def test_processing_racing_cancel_from_the_same_page_one_wins_the_other_409(make_app, orders_database,
                                                                           auth, tokens):
    """Two admins on a page showing PENDING press 'processing' and 'cancel' at the same instant
    (PostgreSQL row lock): exactly one applies; the other is told the order changed."""
    app = make_app(orders_database)
    client = app.test_client()
    admin = tokens.headers(ADMIN, "ADMIN")
    for _ in range(3):
        order = client.post("/api/orders", json={"items": [{"productId": 1, "size": "12cm", "quantity": 1}],
                                                 "shippingAddress": "1 Lê Lợi"},
                            headers=auth(CUSTOMER)).get_json()
        with live_server(app) as url:
            process, cancel = _race(url, [
                ("PATCH", STATUS.format(order["id"]), admin,
                 {"status": "PROCESSING", "expectedStatus": "PENDING"}),
                ("POST", CANCEL.format(order["id"]), admin, {"expectedStatus": "PENDING"})])
        assert sorted([process.status_code, cancel.status_code]) == [200, 409], [process.text, cancel.text]
        loser = process if process.status_code == 409 else cancel
        # The loser waited on the row lock, then read the winner's status.
        assert loser.json()["error"]["code"] == "status_changed", loser.text
        final = client.get(f"/api/orders/{order['id']}", headers=auth(ADMIN, "ADMIN")).get_json()
        assert final["status"] == ("PROCESSING" if process.status_code == 200 else "CANCELLED")
        assert [h["toStatus"] for h in final["statusHistory"]] == ["PENDING", final["status"]]
