"""The orders API: /api/orders*."""

from __future__ import annotations

from flask import Blueprint, jsonify

from services.kit.api import BEARER_AUTH, BODY_ERRORS, SpecResponse, error_responses, make_spec
from services.kit.auth import current_user, ensure_self_or_admin, require_auth, require_role
from services.kit.routing import ID

from . import checkout, fulfilment, reports
from .schemas import (
    AdminOrderPage,
    AdminOrdersQuery,
    CancelIn,
    KeyQuery,
    OrderHeaders,
    OrderIn,
    OrderOut,
    OrderPage,
    PageQuery,
    SalesSummary,
    StatusIn,
    SummaryQuery,
    order_json,
)

spec = make_spec("SweetDream orders")
bp = Blueprint("orders", __name__)



@bp.post("/api/orders")
@require_auth
@spec.validate(resp=SpecResponse(HTTP_201=OrderOut, **error_responses(401, 403, 409, 422, 503, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["orders"])
def create_order(json: OrderIn, headers: OrderHeaders):
    """Place an order. Prices come from the catalog; send `Idempotency-Key` to retry safely."""
    placed = checkout.place_order(json, current_user(), headers.idempotency_key)
    headers = {"Location": f"/api/orders/{placed.body['id']}"}
    if placed.replayed:
        headers["Idempotent-Replayed"] = "true"
    return jsonify(placed.body), placed.status, headers


@bp.get("/api/orders/by-key")
@require_auth
@spec.validate(resp=SpecResponse(HTTP_200=OrderOut, **error_responses(401, 404, 422)),
               security=BEARER_AUTH, tags=["orders"])
def order_by_key(query: KeyQuery):
    """The order the caller placed with this `Idempotency-Key`, else 404: did a request whose answer
    never came go through?"""
    caller = current_user()
    return jsonify(order_json(checkout.placed_with(query.idempotency_key, caller), caller))


@bp.get("/api/orders")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_200=AdminOrderPage, **error_responses(401, 403, 422)),
               security=BEARER_AUTH, tags=["orders"])
def list_orders(query: AdminOrdersQuery):
    """All orders (admin): filter by status and shop-local dates; dashboard totals included."""
    return jsonify(reports.admin_orders(query))


@bp.get("/api/orders/summary")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_200=SalesSummary, **error_responses(401, 403, 422)),
               security=BEARER_AUTH, tags=["orders"])
def sales_summary(query: SummaryQuery):
    """Sales per shop-local day, best sellers and revenue by category (admin analytics)."""
    return jsonify(reports.sales_summary(query))


@bp.get(f"/api/orders/user/<{ID}:user_id>")
@require_auth
@spec.validate(resp=SpecResponse(HTTP_200=OrderPage, **error_responses(401, 403, 422)),
               security=BEARER_AUTH, tags=["orders"])
def user_orders(user_id: int, query: PageQuery):
    """A customer's orders, newest first (the customer or an admin)."""
    ensure_self_or_admin(user_id)
    return jsonify(reports.customer_orders(user_id, query))


@bp.get(f"/api/orders/<{ID}:order_id>")
@require_auth
@spec.validate(resp=SpecResponse(HTTP_200=OrderOut, **error_responses(401, 404)),
               security=BEARER_AUTH, tags=["orders"])
def get_order(order_id: int):
    """One order with its items and status history (the owner or an admin)."""
    caller = current_user()
    return jsonify(order_json(fulfilment.visible_order(order_id, caller), caller))


@bp.patch(f"/api/orders/<{ID}:order_id>/status")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_200=OrderOut,
                                 **error_responses(401, 403, 404, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["orders"])
def update_status(order_id: int, json: StatusIn):
    """Move an order along PENDING → PROCESSING → SHIPPED → DELIVERED, or cancel it (admin). With
    `expectedStatus`, only if the order still has that status (else 409 status_changed)."""
    return jsonify(fulfilment.change_status(order_id, json.status, current_user(), json.expected_status))


@bp.post(f"/api/orders/<{ID}:order_id>/cancel")
@require_auth
@spec.validate(resp=SpecResponse(HTTP_200=OrderOut, **error_responses(401, 404, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["orders"])
def cancel_order(order_id: int, json: CancelIn):
    """Cancel: the owner while PENDING, an admin while PENDING or PROCESSING. The body is optional;
    with `expectedStatus`, only if the order still has that status (else 409 status_changed)."""
    return jsonify(fulfilment.cancel(order_id, current_user(), json.expected_status))
