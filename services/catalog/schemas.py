"""Request and response bodies (camelCase JSON), and how catalog rows are rendered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.kit.api import ORDER_LINES_MAX, CamelModel, Id, Moment
from services.kit.db import as_utc
from services.kit.text import MULTI_LINE, SINGLE_LINE, canonical_name, normalize, same_name

from .models import QUANTITY_MAX, CartItem, Category, Product, ProductSize

PRICE_MAX = 1_000_000_000  # VND; no cake costs a billion đồng
PAGE_SIZE_MAX = 100
IMAGE_URL_PREFIX = "/api/images/"

# Strict: JSON `true`, "3" or 1.5 is not a price or a quantity.
Price = Annotated[int, Field(strict=True, ge=1, le=PRICE_MAX)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=QUANTITY_MAX)]
# Names and labels written one way (`canonical_name`: NFC, single spaces), so one typed with separate
# accents or a doubled space is the same one. The
# BeforeValidator goes after Field: before it, the length checks lose their string error types.
SizeLabel = Annotated[str, Field(min_length=1, max_length=20, pattern=SINGLE_LINE,
                                 description='e.g. "12cm", "Hộp 6 cái"'), BeforeValidator(canonical_name)]
Slug = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
ImageName = Annotated[str, Field(min_length=5, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*\.svg$",
                                 description="A file served under /api/images/")]

SortOrder = Literal["relevance", "price", "-price", "name", "-name", "newest"]


def _searchable(value: str) -> str:
    if not normalize(value):
        raise ValueError("must contain at least one letter or digit")
    return value


SearchText = Annotated[str, Field(min_length=1, max_length=100, pattern=SINGLE_LINE),
                       AfterValidator(_searchable)]
CategoryName = Annotated[str, Field(min_length=1, max_length=100, pattern=SINGLE_LINE),
                         AfterValidator(_searchable), BeforeValidator(canonical_name)]
ProductName = Annotated[str, Field(min_length=1, max_length=200, pattern=SINGLE_LINE),
                        AfterValidator(_searchable), BeforeValidator(canonical_name)]


def _patch_schema(schema: dict) -> None:
    """Fields are optional, never nullable: drop the `null` branch pydantic documents for them."""
    schema["minProperties"] = 1
    for prop in schema.get("properties", {}).values():
        branches = [b for b in prop.pop("anyOf", []) if b != {"type": "null"}]
        if len(branches) == 1:
            prop.update(branches[0])
        elif branches:
            prop["anyOf"] = branches
        prop.pop("default", None)


class PatchModel(CamelModel):
    """PATCH bodies: a field left out keeps its value; null is never a value; {} is a 422."""

    model_config = ConfigDict(json_schema_extra=_patch_schema)

    @field_validator("*")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value

    @model_validator(mode="after")
    def _something_to_change(self):
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self


# ---- queries ---------------------------------------------------------------------------------

class PageQuery(CamelModel):
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=PAGE_SIZE_MAX)


class CatalogContext(CamelModel):
    """What a shopper is browsing: a category and/or a search."""

    category: str | None = Field(default=None, min_length=1, max_length=120, pattern=SINGLE_LINE,
                                 description="Category id or slug")
    q: SearchText | None = Field(default=None, description="Search words, accents optional")


class ProductsQuery(PageQuery, CatalogContext):
    size: SizeLabel | None = Field(default=None, description="Only products sold in this size")
    min_price: int | None = Field(default=None, ge=0, le=PRICE_MAX,
                                  description="A product matches when any of its sizes is in range")
    max_price: int | None = Field(default=None, ge=0, le=PRICE_MAX)
    sort: SortOrder | None = Field(
        default=None, description="price/-price sort by the lowest size price; default (and "
                                  "relevance without q): relevance when q is given, else catalog order")
    include_inactive: bool = Field(default=False, description="Admins only: list inactive products too")

    @field_validator("max_price")
    @classmethod
    def _not_below_min_price(cls, value: int | None, info: ValidationInfo) -> int | None:
        # On maxPrice, not the whole query: a client (the storefront) drops the price it names and
        # keeps the search, category and sort.
        minimum = info.data.get("min_price")
        if value is not None and minimum is not None and minimum > value:
            raise ValueError("minPrice must not be greater than maxPrice")
        return value


class SizesQuery(CatalogContext):
    """The sizes on sale within a category and/or search (no size or price filter: it lists the
    choices for those)."""


class ProductQuery(CamelModel):
    count_view: bool = Field(
        default=True, description="false: the caller counts this view itself (the storefront's "
                                  "product page), so no Product Viewed is emitted here")


class CategoriesQuery(CamelModel):
    include_inactive: bool = Field(default=False, description="Admins only: count inactive products too")


class SearchQuery(PageQuery):
    q: SearchText


# ---- admin bodies ----------------------------------------------------------------------------

class SizeIn(CamelModel):
    size: SizeLabel
    price: Price


class SizePatch(PatchModel):
    size: SizeLabel | None = None
    price: Price | None = None


class ProductIn(CamelModel):
    name: ProductName
    description: str = Field(default="", max_length=2000, pattern=MULTI_LINE)
    category_id: Id
    slug: Slug | None = Field(default=None, description="Default: made from the name")
    image: ImageName | None = Field(default=None, description="Default: a generic cake")
    active: bool = Field(default=True, strict=True)
    sizes: list[SizeIn] = Field(min_length=1, max_length=20)

    @field_validator("sizes")
    @classmethod
    def _distinct_sizes(cls, sizes: list[SizeIn]) -> list[SizeIn]:
        labels = [size.size for size in sizes]
        if any(same_name(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]):
            raise ValueError("each size label may appear only once, in any letter case")
        return sizes


class ProductPatch(PatchModel):
    name: ProductName | None = None
    description: str | None = Field(default=None, max_length=2000, pattern=MULTI_LINE)
    category_id: Id | None = None
    slug: Slug | None = None
    image: ImageName | None = None
    active: bool | None = Field(default=None, strict=True)


class CategoryIn(CamelModel):
    name: CategoryName
    slug: Slug | None = Field(default=None, description="Default: made from the name")
    description: str = Field(default="", max_length=1000, pattern=MULTI_LINE)


class CategoryPatch(PatchModel):
    name: CategoryName | None = None
    slug: Slug | None = None
    description: str | None = Field(default=None, max_length=1000, pattern=MULTI_LINE)




# ---- price lookup (the orders service's contract) --------------------------------------------

class PriceLineIn(CamelModel):
    product_id: Id
    size: Annotated[str, Field(min_length=1, max_length=100), BeforeValidator(canonical_name)]


class PriceLookupIn(CamelModel):
    items: list[PriceLineIn] = Field(min_length=1, max_length=ORDER_LINES_MAX)


class PriceLineOut(CamelModel):
    product_id: int
    size: str
    available: bool
    reason: Literal["unknown_product", "unknown_size", "inactive"] | None
    product_name: str | None
    category_id: int | None
    category: str | None
    price: int | None


class PriceLookupOut(CamelModel):
    items: list[PriceLineOut]


# ---- cart bodies -----------------------------------------------------------------------------

class CartItemIn(CamelModel):
    product_id: Id
    size: SizeLabel
    quantity: Quantity = 1


class CartQuantityIn(CamelModel):
    quantity: Quantity


# ---- responses -------------------------------------------------------------------------------

class CategoryRef(CamelModel):
    id: int
    name: str
    slug: str


class SizeOut(CamelModel):
    id: int
    size: str
    price: int
    cart_count: int | None = Field(default=None, description="Admins only (a product read, a size's "
                                                              "removal): carts holding this size")


class ProductOut(CamelModel):
    id: int
    name: str
    slug: str
    description: str
    category: CategoryRef
    image_url: str
    active: bool
    sizes: list[SizeOut]
    min_price: int | None
    created_at: str
    updated_at: str


class ProductPage(CamelModel):
    items: list[ProductOut]
    total: int
    page: int
    page_size: int


class SearchPage(ProductPage):
    query: str


class SizeChoice(CamelModel):
    size: str
    product_count: int = Field(description="Active products sold in this size")


class SizeChoiceList(CamelModel):
    items: list[SizeChoice] = Field(description="Every size label on sale, in natural order "
                                                "(\"8cm\" before \"12cm\")")


class CategoryOut(CamelModel):
    id: int
    name: str
    slug: str
    description: str
    product_count: int = Field(description="Active products (all products, for admins)")


class CategoryList(CamelModel):
    items: list[CategoryOut]


class CartClearQuery(CamelModel):
    # What orders sent before POST /api/cart/user/{id}/ordered; kept while a deployment still runs
    # orders tasks of the previous release.
    before: Moment | None = Field(
        default=None, description="Only the lines last changed at or before this moment (ISO-8601 "
                                  "with an offset)")


class OrderedLine(CamelModel):
    product_id: Id
    size: SizeLabel
    quantity: Quantity


class CartOrdered(CamelModel):
    ordered_at: Moment = Field(
        description="When the order was placed (ISO-8601 with an offset): lines changed after it are a "
                    "new choice and stay as they are")
    items: list[OrderedLine] = Field(min_length=1, max_length=ORDER_LINES_MAX)


class CartItemOut(CamelModel):
    id: int
    product_id: int
    product_name: str
    size: str
    unit_price: int
    quantity: int
    line_total: int
    image_url: str
    available: bool = Field(description="False once the product is deactivated or the size removed; "
                                        "not in the totals, never ordered")
    unavailable_reason: Literal["inactive", "size_removed"] | None = Field(
        description="Why the line is not available: the product is deactivated, or the admin removed "
                    "its size (`size` keeps the label it had); null when available")
    updated_at: str = Field(description="When the line was created or its quantity last set (ISO-8601 "
                                        "UTC); adding to the line leaves it as it was")


class CartOut(CamelModel):
    user_id: int
    items: list[CartItemOut]
    item_count: int = Field(description="Cakes in the cart (available lines)")
    subtotal: int = Field(description="VND, available lines at current prices")


# ---- rendering -------------------------------------------------------------------------------

def iso(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def image_url(image: str) -> str:
    return IMAGE_URL_PREFIX + image


def size_json(size: ProductSize, cart_count: int | None = None) -> dict:
    body = {"id": size.id, "size": size.label, "price": size.price}
    if cart_count is not None:
        body["cartCount"] = cart_count
    return body


def category_ref_json(category: Category) -> dict:
    return {"id": category.id, "name": category.name, "slug": category.slug}


def product_json(product: Product, cart_counts: dict[int, int] | None = None) -> dict:
    """`cart_counts` (size id → carts holding it): for admins, whose sizes then carry `cartCount`."""
    return {
        "id": product.id,
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "category": category_ref_json(product.category),
        "imageUrl": image_url(product.image),
        "active": product.active,
        "sizes": [size_json(size, None if cart_counts is None else cart_counts.get(size.id, 0))
                  for size in product.sizes],
        "minPrice": product.min_price,
        "createdAt": iso(product.created_at),
        "updatedAt": iso(product.updated_at),
    }


def category_json(category: Category, product_count: int) -> dict:
    return {"id": category.id, "name": category.name, "slug": category.slug,
            "description": category.description, "productCount": product_count}


def unavailable_reason(item: CartItem) -> str | None:
    if not item.product.active:
        return "inactive"
    if item.size.removed_at is not None:
        return "size_removed"
    return None


def cart_item_json(item: CartItem) -> dict:
    reason = unavailable_reason(item)
    return {
        "id": item.id,
        "productId": item.product_id,
        "productName": item.product.name,
        "size": item.size.label,
        "unitPrice": item.size.price,
        "quantity": item.quantity,
        "lineTotal": item.size.price * item.quantity,
        "imageUrl": image_url(item.product.image),
        "available": reason is None,
        "unavailableReason": reason,
        "updatedAt": as_utc(item.updated_at).isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }


def cart_json(user_id: int, items: list[CartItem]) -> dict:
    lines = [cart_item_json(item) for item in items]
    available = [line for line in lines if line["available"]]
    return {
        "userId": user_id,
        "items": lines,
        "itemCount": sum(line["quantity"] for line in available),
        "subtotal": sum(line["lineTotal"] for line in available),
    }
