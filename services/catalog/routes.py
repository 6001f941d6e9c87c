"""The catalog API: products, categories, the price lookup, images and carts (/api/*)."""

from __future__ import annotations

import functools
import re

from flask import Blueprint, Response, current_app, g, jsonify, request, send_from_directory
from werkzeug.http import generate_etag

from services.kit.api import BEARER_AUTH, BODY_ERRORS, SpecResponse, error_responses, make_spec
from services.kit.app import current_config
from services.kit.auth import Principal, current_user, ensure_self_or_admin, require_auth, require_role
from services.kit.caching import conditional
from services.kit.errors import Forbidden, NotFound, Unauthorized
from services.kit.events import emit_event, product_viewed
from services.kit.routing import ID

from . import admin, carts, products
from .readcache import read_cache
from .schemas import (
    CartClearQuery,
    CartItemIn,
    CartItemOut,
    CartOrdered,
    CartOut,
    CartQuantityIn,
    CategoriesQuery,
    CategoryIn,
    CategoryList,
    CategoryOut,
    CategoryPatch,
    PriceLookupIn,
    PriceLookupOut,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProductQuery,
    ProductsQuery,
    SearchPage,
    SearchQuery,
    SizeChoiceList,
    SizeIn,
    SizeOut,
    SizePatch,
    SizesQuery,
    cart_item_json,
    cart_json,
    category_json,
    product_json,
    size_json,
)

spec = make_spec("SweetDream catalog")
bp = Blueprint("catalog", __name__)

IMAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.svg$")


def _cache_seconds() -> int:
    return current_config().catalog_cache_seconds


def _viewer() -> Principal | None:
    """The caller of a public read. A missing or bad token only means an anonymous shopper:
    it grants nothing here, and an expired storefront session must not break browsing."""
    try:
        return current_user()
    except Unauthorized:
        return None


def _read_event(name: str, properties: dict) -> None:
    """Emit a shopper's read event, and note it so a cached answer to the same read repeats it.

    Admins' reads are shop work, not shopping: the funnel and the analysts never see them."""
    viewer = _viewer()
    if viewer is not None and viewer.is_admin:
        return
    g.read_event = (name, properties)
    if request.method != "HEAD":  # a HEAD shows nobody anything (a link checker, a probe)
        emit_event(name, properties)


def shopper_read(view):
    """Answer a shopper's repeated read from the read cache (services/catalog/readcache.py).

    Placed outside `spec.validate`: the first request with this exact path and query string was
    validated, queried and serialised; an identical one within the TTL gets the same bytes and
    re-emits the same event (for this caller). Only 200s are kept; admins always read through.
    """
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        viewer = _viewer()
        if viewer is not None and viewer.is_admin:
            return view(*args, **kwargs)
        fresh = {}

        def build() -> tuple[bytes, str, tuple[str, dict] | None] | None:
            response = current_app.make_response(view(*args, **kwargs))
            fresh["response"] = response
            if response.status_code != 200:
                return None
            body = response.get_data()
            return body, generate_etag(body), g.get("read_event")

        cached = read_cache().get((request.path, request.query_string), build)
        if "response" in fresh:  # built for this request (a non-200 is answered, never kept)
            return fresh["response"]
        body, etag, read_event = cached
        if read_event is not None and request.method != "HEAD":
            emit_event(*read_event)
        response = current_app.response_class(body, mimetype="application/json")
        response.set_etag(etag)  # hashed once per cached body, not per request
        return response
    return wrapper


@bp.after_request
def _forget_reads_after_admin_writes(response: Response) -> Response:
    # Only admins change what shoppers read; their carts and the price lookup do not.
    user = g.get("user")
    if request.method not in ("GET", "HEAD") and response.status_code < 400 and user and user.is_admin:
        read_cache().clear()
    return response


def _admin_view(requested: bool) -> bool:
    """`includeInactive=true` is for admins: 401 without a valid token, 403 for customers."""
    if not requested:
        _viewer()  # so events carry the shopper's id
        return False
    user = current_user()
    if user is None:
        raise Unauthorized("Authentication required", headers={"WWW-Authenticate": "Bearer"})
    if not user.is_admin:
        raise Forbidden("Requires role ADMIN")
    return True


# ---- products --------------------------------------------------------------------------------

@bp.get("/api/products")
@conditional(max_age=_cache_seconds)
@shopper_read
@spec.validate(resp=SpecResponse("HTTP_304", HTTP_200=ProductPage, **error_responses(401, 403, 422)),
               tags=["products"])
def list_products(query: ProductsQuery):
    """Products with filters (category id/slug, q, size, price range), sort and paging."""
    admin_view = _admin_view(query.include_inactive)
    page = products.list_products(query, include_inactive=admin_view)
    if _is_new_search(query):
        _read_event("Product Search", {"searchQuery": query.q, "resultsCount": page.total})
    return jsonify({"items": [product_json(p) for p in page.items], "total": page.total,
                    "page": query.page, "pageSize": query.page_size})


def _is_new_search(query: ProductsQuery) -> bool:
    """A shopper's search (words, within a category or not), counted once. Its later pages, its
    results narrowed by size or price, or sorted, are the same search: counting them again would
    inflate searches, and a narrowed count of 0 would read as words that found nothing."""
    return (query.q is not None and query.page == 1 and query.size is None and query.sort is None
            and query.min_price is None and query.max_price is None)


@bp.get("/api/products/search")
@conditional(max_age=_cache_seconds)
@shopper_read
@spec.validate(resp=SpecResponse("HTTP_304", HTTP_200=SearchPage, **error_responses(422)), tags=["products"])
def search_products(query: SearchQuery):
    """Accent- and case-insensitive search by relevance ("banh kem" finds "Bánh Kem")."""
    _viewer()
    page = products.list_products(ProductsQuery(q=query.q, page=query.page, page_size=query.page_size))
    if query.page == 1:
        _read_event("Product Search", {"searchQuery": query.q, "resultsCount": page.total})
    return jsonify({"items": [product_json(p) for p in page.items], "total": page.total,
                    "page": query.page, "pageSize": query.page_size, "query": query.q})


@bp.get("/api/products/sizes")
@conditional(max_age=_cache_seconds)
@shopper_read
@spec.validate(resp=SpecResponse("HTTP_304", HTTP_200=SizeChoiceList, **error_responses(422)),
               tags=["products"])
def list_sizes(query: SizesQuery):
    """Every size on sale (active products), within a category and/or search: a size filter's choices."""
    _viewer()
    return jsonify({"items": [{"size": label, "productCount": count}
                              for label, count in products.size_choices(query)]})


@bp.get(f"/api/products/<{ID}:product_id>")
@conditional(max_age=_cache_seconds)
@shopper_read
@spec.validate(resp=SpecResponse("HTTP_304", HTTP_200=ProductOut, **error_responses(404)), tags=["products"])
def get_product(product_id: int, query: ProductQuery):
    """One product with its sizes. Inactive products exist only for admins."""
    viewer = _viewer()
    is_admin = bool(viewer and viewer.is_admin)
    product = products.get_product(product_id, include_inactive=is_admin)
    # Admins see how many carts hold each size: removing one marks those lines no longer on sale.
    body = product_json(product, admin.carts_holding(product) if is_admin else None)
    if query.count_view:
        _read_event("Product Viewed", product_viewed(body))
    return jsonify(body)


@bp.post("/api/products/prices")
@spec.validate(resp=SpecResponse(HTTP_200=PriceLookupOut, **error_responses(422, *BODY_ERRORS)),
               tags=["products"])
def price_lookup(json: PriceLookupIn):
    """Authoritative prices for (productId, size) lines, in request order (used by orders)."""
    return jsonify({"items": products.price_lines(json.items)})


@bp.post("/api/products")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_201=ProductOut, **error_responses(401, 403, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["admin"])
def create_product(json: ProductIn):
    """Create a product with its sizes (admin)."""
    product = admin.create_product(json)
    return jsonify(product_json(product)), 201, {"Location": f"/api/products/{product.id}"}


@bp.patch(f"/api/products/<{ID}:product_id>")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_200=ProductOut,
                                 **error_responses(401, 403, 404, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["admin"])
def update_product(product_id: int, json: ProductPatch):
    """Change a product's fields; `{"active": false}` deactivates it (admin)."""
    return jsonify(product_json(admin.update_product(product_id, json)))


@bp.post(f"/api/products/<{ID}:product_id>/sizes")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_201=SizeOut, **error_responses(401, 403, 404, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["admin"])
def add_size(product_id: int, json: SizeIn):
    """Add a size with its price (admin)."""
    return jsonify(size_json(admin.add_size(product_id, json))), 201


@bp.patch(f"/api/products/<{ID}:product_id>/sizes/<{ID}:size_id>")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_200=SizeOut, **error_responses(401, 403, 404, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["admin"])
def update_size(product_id: int, size_id: int, json: SizePatch):
    """Rename a size or change its price (admin)."""
    return jsonify(size_json(admin.update_size(product_id, size_id, json)))


@bp.delete(f"/api/products/<{ID}:product_id>/sizes/<{ID}:size_id>")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse("HTTP_204", HTTP_200=SizeOut, **error_responses(401, 403, 404, 409)),
               security=BEARER_AUTH, tags=["admin"])
def remove_size(product_id: int, size_id: int):
    """Take a size off sale; 409 for a product's last size (admin). Cart lines holding it stay, no
    longer available. 204, or with `Prefer: return=representation` 200 and the size as it was with
    `cartCount`, the carts holding it."""
    size, carts_holding = admin.remove_size(product_id, size_id)
    if _prefers_representation():
        return jsonify(size_json(size, carts_holding))
    return "", 204


def _prefers_representation() -> bool:
    """RFC 7240 `Prefer: return=representation`."""
    return any(part.strip().lower() == "return=representation"
               for value in request.headers.getlist("Prefer") for part in value.split(","))


# ---- categories ------------------------------------------------------------------------------

@bp.get("/api/categories")
@conditional(max_age=_cache_seconds)
@shopper_read
@spec.validate(resp=SpecResponse("HTTP_304", HTTP_200=CategoryList, **error_responses(401, 403, 422)),
               tags=["categories"])
def list_categories(query: CategoriesQuery):
    """Categories with their product counts (active products; all products with includeInactive)."""
    rows = products.list_categories(include_inactive=_admin_view(query.include_inactive))
    return jsonify({"items": [category_json(category, count) for category, count in rows]})


@bp.post("/api/categories")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_201=CategoryOut, **error_responses(401, 403, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["admin"])
def create_category(json: CategoryIn):
    """Create a category (admin)."""
    category = admin.create_category(json)
    return jsonify(category_json(category, 0)), 201


@bp.patch(f"/api/categories/<{ID}:category_id>")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse(HTTP_200=CategoryOut,
                                 **error_responses(401, 403, 404, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["admin"])
def update_category(category_id: int, json: CategoryPatch):
    """Rename or describe a category (admin)."""
    category = admin.update_category(category_id, json)
    return jsonify(category_json(category, products.count_products(category.id)))


@bp.delete(f"/api/categories/<{ID}:category_id>")
@require_role("ADMIN")
@spec.validate(resp=SpecResponse("HTTP_204", **error_responses(401, 403, 404, 409)),
               security=BEARER_AUTH, tags=["admin"])
def delete_category(category_id: int):
    """Delete an empty category; 409 while it still has products (admin)."""
    admin.delete_category(category_id)
    return "", 204


# ---- images ----------------------------------------------------------------------------------

@bp.get("/api/images/<name>")
def image(name: str):
    """Our own SVG illustrations; served under /api/ because the ALB sends /api/* here."""
    if not IMAGE_NAME.match(name) or not admin.image_exists(name):
        raise NotFound(f"No image {name!r}")
    response = send_from_directory(admin.IMAGE_DIR, name, mimetype="image/svg+xml",
                                   max_age=current_config().image_cache_seconds)
    # An SVG is a document: never let one run script, even when opened directly.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---- cart ------------------------------------------------------------------------------------

CART_ID_DESCRIPTION = {"id": "GET: the customer's user id; PATCH/DELETE: the cart item id"}


@bp.post("/api/cart")
@require_auth
@spec.validate(resp=SpecResponse(HTTP_201=CartItemOut, HTTP_200=CartItemOut,
                                 **error_responses(401, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["cart"])
def add_to_cart(json: CartItemIn):
    """Add a cake to the caller's cart; the same product and size merge into one line (max 99)."""
    added = carts.add_item(current_user().id, json.product_id, json.size, json.quantity)
    emit_event("Add to Cart", {"productId": json.product_id, "quantity": json.quantity,
                               "size": json.size, "price": added.item.size.price})
    return jsonify(cart_item_json(added.item)), 201 if added.created else 200


@bp.get(f"/api/cart/<{ID}:id>")
@conditional(private=True)
@require_auth
@spec.validate(resp=SpecResponse("HTTP_304", HTTP_200=CartOut, **error_responses(401, 403, 404)),
               security=BEARER_AUTH,
               tags=["cart"], path_parameter_descriptions=CART_ID_DESCRIPTION)
def get_cart(id: int):  # `id`: one OpenAPI path template shared with PATCH/DELETE /api/cart/{id}
    """A customer's cart with current prices and totals (the customer, or an admin)."""
    ensure_self_or_admin(id)
    return jsonify(cart_json(id, carts.cart_items(id)))


@bp.patch(f"/api/cart/<{ID}:id>")
@require_auth
@spec.validate(resp=SpecResponse(HTTP_200=CartItemOut,
                                 **error_responses(401, 403, 404, 409, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["cart"], path_parameter_descriptions=CART_ID_DESCRIPTION)
def update_cart_item(id: int, json: CartQuantityIn):
    """Set a line's quantity, 1–99 (the cart's owner); 409 `not_on_sale` for a line no longer on sale
    (product deactivated or size removed), which can only be removed."""
    return jsonify(cart_item_json(carts.set_quantity(id, json.quantity, current_user())))


@bp.delete(f"/api/cart/<{ID}:id>")
@require_auth
@spec.validate(resp=SpecResponse("HTTP_204", **error_responses(401, 403, 404)),
               security=BEARER_AUTH, tags=["cart"], path_parameter_descriptions=CART_ID_DESCRIPTION)
def remove_cart_item(id: int):
    """Remove a line (the cart's owner)."""
    carts.remove_item(id, current_user())
    return "", 204


@bp.post(f"/api/cart/user/<{ID}:user_id>/ordered")
@require_auth
@spec.validate(resp=SpecResponse("HTTP_204", **error_responses(401, 403, 404, 422, *BODY_ERRORS)),
               security=BEARER_AUTH, tags=["cart"])
def cart_ordered(user_id: int, json: CartOrdered):
    """Take what an order bought out of the customer's cart, and nothing else (the customer, or an
    admin). Orders calls it after every order; calling it again changes nothing."""
    ensure_self_or_admin(user_id)
    carts.remove_ordered(user_id, json.ordered_at,
                         [(line.product_id, line.size, line.quantity) for line in json.items])
    return "", 204


@bp.delete(f"/api/cart/user/<{ID}:user_id>")
@require_auth
@spec.validate(resp=SpecResponse("HTTP_204", **error_responses(401, 403, 404, 422)),
               security=BEARER_AUTH, tags=["cart"])
def clear_cart(user_id: int, query: CartClearQuery):
    """Empty a customer's cart, or only its lines changed up to `before` (the customer, or an admin)."""
    ensure_self_or_admin(user_id)
    carts.clear(user_id, before=query.before)
    return "", 204

