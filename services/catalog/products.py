"""Reading the catalog: listing with filters, relevance search, categories, the price lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, func, literal, or_, select
from sqlalchemy.orm import contains_eager, selectinload

from services.kit.db import MAX_ID, db_session
from services.kit.errors import NotFound
from services.kit.text import normalize, tokens

from .models import Category, Product, ProductSize
from .schemas import CatalogContext, PriceLineIn, ProductsQuery

# Relevance of a product to a search, best first (README "Search" documents the same rule).
RANK_EXACT_NAME = 100  # the name is the query: "mousse dau" → Mousse Dâu
RANK_NAME_PREFIX = 80  # the name starts with the query: "tira" → Tiramisu Dâu
RANK_NAME_PHRASE = 60  # the name contains the query as typed: "kem bap" → Bánh Kem Bắp
RANK_NAME_WORDS = 40  # the name contains every word, in any order: "bap kem"
RANK_CATEGORY = 20  # every word is in the name or the category: "nuong socola" → Bánh So-co-la
RANK_DESCRIPTION = 10  # every word is somewhere, the description included
_DIGIT_RUNS = re.compile(r"(\d+)")
# A removed size stays as a row for the carts that hold it; the catalog no longer sells it.
_ON_SALE = ProductSize.removed_at.is_(None)


@dataclass(frozen=True)
class ProductPage:
    items: list[Product]
    total: int


def _compact(column: ColumnElement[str]) -> ColumnElement[str]:
    # "socola" should find "So-co-la": compare with the spaces taken out too.
    return func.replace(column, " ", "")


def _contains(column: ColumnElement[str], word: str) -> ColumnElement[bool]:
    # Words are [0-9a-z]+ after normalisation, so they carry no LIKE wildcards to escape.
    return column.like(f"%{word}%")


def _word_found(word: str) -> ColumnElement[bool]:
    return or_(_contains(Product.search_name, word), _contains(_compact(Product.search_name), word),
               _contains(Category.search_name, word), _contains(Product.search_description, word))


def _relevance(phrase: str, words: list[str]) -> ColumnElement[int]:
    in_name = and_(*[or_(_contains(Product.search_name, w), _contains(_compact(Product.search_name), w))
                     for w in words])
    in_name_or_category = and_(*[or_(_contains(Product.search_name, w),
                                     _contains(_compact(Product.search_name), w),
                                     _contains(Category.search_name, w)) for w in words])
    return case(
        (Product.search_name == phrase, RANK_EXACT_NAME),
        (Product.search_name.like(f"{phrase}%"), RANK_NAME_PREFIX),
        (_contains(Product.search_name, phrase), RANK_NAME_PHRASE),
        (in_name, RANK_NAME_WORDS),
        (in_name_or_category, RANK_CATEGORY),
        else_=RANK_DESCRIPTION,
    )


def _min_price() -> ColumnElement[int]:
    return (select(func.min(ProductSize.price)).where(ProductSize.product_id == Product.id, _ON_SALE)
            .correlate(Product).scalar_subquery())


def _category_filter(value: str) -> ColumnElement[bool]:
    if value.isdigit():
        category_id = int(value)
        return Product.category_id == category_id if category_id <= MAX_ID else literal(False)
    return Category.slug == value


def _context_conditions(context: CatalogContext, *, include_inactive: bool) -> list[ColumnElement[bool]]:
    """The products a shopper is browsing: active ones, in the category, matching the search."""
    conditions: list[ColumnElement[bool]] = []
    if not include_inactive:
        conditions.append(Product.active.is_(True))
    if context.category is not None:
        conditions.append(_category_filter(context.category))
    if context.q is not None:
        conditions.extend(_word_found(word) for word in tokens(context.q))
    return conditions


def list_products(query: ProductsQuery, *, include_inactive: bool = False) -> ProductPage:
    """One page of products matching every filter given, with their sizes and category."""
    conditions = _context_conditions(query, include_inactive=include_inactive)

    # Size and price range constrain the same size: "a 12cm cake under 100,000đ".
    size_conditions: list[ColumnElement[bool]] = []
    if query.size is not None:
        size_conditions.append(ProductSize.label == query.size)
    if query.min_price is not None:
        size_conditions.append(ProductSize.price >= query.min_price)
    if query.max_price is not None:
        size_conditions.append(ProductSize.price <= query.max_price)
    if size_conditions:
        conditions.append(exists().where(ProductSize.product_id == Product.id, _ON_SALE, *size_conditions))

    relevance = _relevance(normalize(query.q), tokens(query.q)) if query.q is not None else None

    session = db_session()
    total = session.scalar(
        select(func.count(Product.id)).join(Product.category).where(*conditions)) or 0

    sort = query.sort or "relevance"
    if sort == "relevance" and relevance is None:
        sort = None  # nothing to rank by: catalog order
    order_by = {
        "relevance": [relevance.desc() if relevance is not None else None, Product.search_name],
        "price": [_min_price().asc(), Product.search_name],
        "-price": [_min_price().desc(), Product.search_name],
        "name": [Product.search_name.asc()],
        "-name": [Product.search_name.desc()],
        "newest": [Product.created_at.desc(), Product.id.desc()],
        None: [],
    }[sort]
    order_by = [clause for clause in order_by if clause is not None] + [Product.id]

    products = session.scalars(
        select(Product).join(Product.category).options(contains_eager(Product.category),
                                                       selectinload(Product.sizes))
        .where(*conditions).order_by(*order_by)
        .offset((query.page - 1) * query.page_size).limit(query.page_size)
    ).all()
    return ProductPage(items=list(products), total=total)


def _natural_order(label: str) -> tuple:
    """'8cm' before '12cm', accents and case aside: digit runs compare as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in _DIGIT_RUNS.split(normalize(label)) if part)


def size_choices(context: CatalogContext) -> list[tuple[str, int]]:
    """Every size label sold among the active products of `context`, with how many products."""
    rows = db_session().execute(
        select(ProductSize.label, func.count(Product.id))
        .join(Product, ProductSize.product_id == Product.id).join(Product.category)
        .where(_ON_SALE, *_context_conditions(context, include_inactive=False))
        .group_by(ProductSize.label))
    return sorted(((label, count) for label, count in rows),
                  key=lambda row: (_natural_order(row[0]), row[0]))


def get_product(product_id: int, *, include_inactive: bool = False) -> Product:
    product = db_session().scalar(
        select(Product).options(selectinload(Product.sizes)).where(Product.id == product_id))
    if product is None or (not product.active and not include_inactive):
        raise NotFound(f"Product {product_id} not found")
    return product


def list_categories(*, include_inactive: bool = False) -> list[tuple[Category, int]]:
    """Every category with its number of products (active ones, unless counting for an admin)."""
    counted = [Product.category_id == Category.id]
    if not include_inactive:
        counted.append(Product.active.is_(True))
    count = select(func.count(Product.id)).where(*counted).correlate(Category).scalar_subquery()
    rows = db_session().execute(select(Category, count).order_by(Category.search_name, Category.id))
    return [(category, product_count) for category, product_count in rows]


def count_products(category_id: int) -> int:
    """Active products in a category."""
    return db_session().scalar(select(func.count(Product.id)).where(
        Product.category_id == category_id, Product.active.is_(True))) or 0


# Built once: composing the statement cost more CPU than running it.
_PRICE_ROWS = (
    select(Product.id, Product.name, Product.active, Category.id, Category.name, ProductSize.label,
           ProductSize.price)
    .join(Category, Product.category_id == Category.id)
    .outerjoin(ProductSize, and_(ProductSize.product_id == Product.id, _ON_SALE))
    .where(Product.id.in_(bindparam("ids", expanding=True))))


def price_lines(lines: list[PriceLineIn]) -> list[dict]:
    """The authoritative price of each (productId, size), in request order, flagging what cannot
    be sold. Shape: the orders contract in DESIGN.md/brief (reason: unknown_product, inactive,
    unknown_size; a removed size is unknown_size).

    One query for plain rows, no ORM objects: orders calls this for every order placed.
    """
    rows = db_session().execute(_PRICE_ROWS, {"ids": list({line.product_id for line in lines})})
    products, prices = {}, {}
    for product_id, name, active, category_id, category, label, price in rows:
        products[product_id] = (name, active, category_id, category)
        prices[product_id, label] = price
    answers = []
    for line in lines:
        name, active, category_id, category = products.get(line.product_id, (None,) * 4)
        price = prices.get((line.product_id, line.size))
        reason = ("unknown_product" if name is None else "inactive" if not active
                  else "unknown_size" if price is None else None)
        # Anyone may ask (the ALB routes /api/* here): a hidden product stays as nameless as a 404.
        shown = reason not in ("unknown_product", "inactive")
        answers.append({
            "productId": line.product_id,
            "size": line.size,
            "available": reason is None,
            "reason": reason,
            "productName": name if shown else None,
            "categoryId": category_id if shown else None,
            "category": category if shown else None,
            "price": price if reason is None else None,
        })
    return answers
