"""Home, catalog (search, filters, sort, pages — all state in the URL) and product pages."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request, session, url_for

from services.kit.events import emit_event, product_viewed
from services.kit.text import SINGLE_LINE

from ..api import ApiError, api, current_config
from ..session import current_shopper
from ..validation import parse_price, whole_number
from .lists import filtered_or_all, past_the_end

bp = Blueprint("shop", __name__)

SORTS = {
    "": "Phù hợp nhất",
    "price": "Giá tăng dần",
    "-price": "Giá giảm dần",
    "name": "Tên A–Z",
    "-name": "Tên Z–A",
    "newest": "Mới nhất",
}
# The filter form's labels: on the form, and to say which filters a refused list dropped.
FILTER_LABELS = {"q": "Từ khóa", "category": "Danh mục", "size": "Kích cỡ", "minPrice": "Giá từ",
                 "maxPrice": "Giá đến", "sort": "Sắp xếp"}
FEATURED_COUNT = 8
MAX_QUERY = 100
# A later page, a narrowing or a sort of a search is the same search, not counted again (as the
# catalog's `_is_new_search` does).
SAME_SEARCH = ("page", "size", "sort", "minPrice", "maxPrice")


def _bounded_int(name: str, low: int, high: int) -> int | None:
    value = whole_number(request.args.get(name))
    return value if value is not None and low <= value <= high else None


def catalog_filters() -> dict[str, str | int]:
    """The catalog's query string, cleaned: an unknown sort or page is dropped; prices are read."""
    args = request.args
    filters: dict[str, str | int] = {
        "q": args.get("q", "").strip()[:MAX_QUERY],
        "category": args.get("category", "").strip()[:100],
        "size": args.get("size", "").strip()[:20],
        "sort": args.get("sort", "") if args.get("sort", "") in SORTS else "",
    }
    for name in ("minPrice", "maxPrice"):
        typed = args.get(name, "").strip()[:20]
        # Read as the shop writes prices (100.000); anything else goes on as typed, for the catalog
        # to refuse and the page to say so rather than to drop it silently.
        price = parse_price(typed)
        filters[name] = typed if price is None else price
    page = _bounded_int("page", 1, 10_000)
    if page and page > 1:
        filters["page"] = page
    return {key: value for key, value in filters.items() if value not in ("", None)}


def categories() -> list[dict]:
    return api().public_get("/api/categories")["items"]


def size_choices(filters: dict, page_items: list[dict]) -> list[str]:
    """Every size on sale in the category and search being browsed, not only this page's."""
    context = {key: filters[key] for key in ("category", "q") if key in filters}
    try:
        labels = [item["size"] for item in api().get("/api/products/sizes", params=context)["items"]]
    except ApiError as exc:
        if exc.status not in (404, 422):
            raise
        # A catalog without the endpoint (mid-deploy), or a search it refuses: this page's sizes.
        labels = sorted({size["size"] for product in page_items for size in product["sizes"]})
    if filters.get("size") and filters["size"] not in labels:
        labels.append(filters["size"])  # the select still shows the filter in use
    return labels


@bp.get("/")
def home():
    featured = api().public_get("/api/products", params={"sort": "newest", "pageSize": FEATURED_COUNT})
    return render_template("shop/home.html", categories=categories(), featured=featured["items"])


@bp.get("/products")
def catalog():
    page_size = current_config().page_size
    asked = catalog_filters()
    result, filters, message = filtered_or_all(
        lambda filters: api().counted_get("/api/products", params={**filters, "pageSize": page_size}),
        asked, lambda dropped: "Bộ lọc không hợp lệ nên đã được bỏ qua: "
                               f"{', '.join(FILTER_LABELS.get(name, name) for name in dropped)}.")
    if "q" in asked and "q" not in filters:
        # A search the catalog refuses (no letter or digit in it: "🍰", "%") matches no cake: say
        # that, with the search as typed, rather than show every cake as if nothing were asked.
        filters, message = asked, None
        result = {"items": [], "total": 0, "page": 1, "pageSize": page_size}
        _count_refused_search(asked)
    page = int(filters.get("page", 1))
    moved = past_the_end(page, result, "shop.catalog", filters)
    if moved:
        return moved
    all_categories = categories()
    # The filter may name a category by slug or id; the heading says its name.
    category = next((c for c in all_categories
                     if filters.get("category") in (c["slug"], str(c["id"]))), None)
    return render_template("shop/catalog.html", result=result, filters=filters, sorts=SORTS,
                           filter_labels=FILTER_LABELS,
                           categories=all_categories, category=category,
                           sizes=size_choices(filters, result["items"]),
                           message=message, page=page,
                           filters_active=any(k in filters for k in ("category", "size", "minPrice",
                                                                      "maxPrice", "sort")))


def _count_refused_search(asked: dict) -> None:
    """A search the catalog refused found nothing, and it emitted no Product Search: emit it here as
    the catalog emits one that found nothing, so the searches with no results count it. Admins'
    searches are not shopping, and a HEAD shows nobody anything (neither is counted there either)."""
    shopper = current_shopper()
    if request.method == "HEAD" or (shopper and shopper.is_admin) or any(k in asked for k in SAME_SEARCH):
        return
    if not re.match(SINGLE_LINE, asked["q"]):  # refused for a control character: not words anyone typed
        return
    emit_event("Product Search", {"searchQuery": asked["q"], "resultsCount": 0},
               user_id=shopper.id if shopper else None, session_id=session["sid"])


@bp.get("/products/<int:product_id>")
def product(product_id: int):
    """A shopper's page comes from this process's public copy (`public_get`), and the view is
    counted here: one catalog call per product every few seconds instead of one per view. Admins
    read through with their token, which also shows them hidden products."""
    path = f"/api/products/{product_id}"
    shopper = current_shopper()
    is_admin = bool(shopper and shopper.is_admin)  # an admin's view is shop work, not shopping
    try:
        item = api().get(path) if is_admin else api().public_get(path, params={"countView": "false"})
    except ApiError as exc:
        if exc.status in (404, 422):
            abort(404)
        raise
    if request.method != "HEAD" and not is_admin:  # a HEAD shows nobody anything
        emit_event("Product Viewed", product_viewed(item), user_id=shopper.id if shopper else None,
                   session_id=session["sid"])
    return render_template("shop/product.html", product=item,
                           next_url=url_for("shop.product", product_id=product_id))
