"""Catalog editing (role ADMIN): products, their sizes and prices, categories."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError

from services.kit.db import db_session, utcnow
from services.kit.errors import Conflict, NotFound, Unprocessable
from services.kit.text import same_name

from .config import SERVICE_DIR
from .models import CartItem, Category, Product, ProductSize
from .schemas import CategoryIn, CategoryPatch, ProductIn, ProductPatch, SizeIn, SizePatch
from .search import slugify

IMAGE_DIR = SERVICE_DIR / "static" / "images"
DEFAULT_IMAGE = "cake.svg"


def _field_error(field: str, message: str) -> Unprocessable:
    return Unprocessable("Request validation failed",
                         details=[{"field": field, "message": message, "type": "value_error"}])


def _commit(conflict_message: str) -> None:
    """Commit; a unique constraint lost to a concurrent writer is a 409, not a 500."""
    session = db_session()
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(conflict_message) from exc


def image_exists(name: str) -> bool:
    return (IMAGE_DIR / Path(name).name).is_file()


def _check_image(name: str) -> str:
    if not image_exists(name):
        raise _field_error("image", f"no image named {name!r} under /api/images/")
    return name


def _category(category_id: int, *, field: str | None = None) -> Category:
    category = db_session().get(Category, category_id)
    if category is None:
        if field:  # a reference in a body: the body is wrong, not the URL
            raise _field_error(field, f"category {category_id} does not exist")
        raise NotFound(f"Category {category_id} not found")
    return category


def _product(product_id: int, *, lock: bool = False) -> Product:
    # `lock`: PostgreSQL holds the row until commit, so two edits of one product's sizes queue up.
    # NO KEY UPDATE: an add to a cart checks its line's foreign key with a KEY SHARE lock on this
    # row while holding its size row, which a size removal waits for: FOR UPDATE deadlocked them.
    lock_row = {"of": Product, "key_share": True} if lock else None
    product = db_session().get(Product, product_id, with_for_update=lock_row)
    if product is None:
        raise NotFound(f"Product {product_id} not found")
    return product


def _size(product: Product, size_id: int) -> ProductSize:
    size = next((s for s in product.sizes if s.id == size_id), None)
    if size is None:
        raise NotFound(f"Product {product.id} has no size {size_id}")
    return size


def _slug_taken(model, slug: str, *, except_id: int | None = None) -> bool:
    query = select(exists().where(model.slug == slug, model.id != (except_id or 0)))
    return bool(db_session().scalar(query))


def _free_product_slug(name: str) -> str:
    """A slug made from the name, numbered when another product has it ("mousse-dau-2")."""
    base = slugify(name)[:200].strip("-")
    slug, number = base, 2
    while _slug_taken(Product, slug):
        slug, number = f"{base}-{number}", number + 1
    return slug


# ---- products --------------------------------------------------------------------------------

def create_product(body: ProductIn) -> Product:
    category = _category(body.category_id, field="categoryId")
    if body.slug and _slug_taken(Product, body.slug):
        raise Conflict(f"Another product already has the slug {body.slug!r}")
    product = Product(
        name=body.name, description=body.description, category=category, active=body.active,
        slug=body.slug or _free_product_slug(body.name),
        image=_check_image(body.image) if body.image else DEFAULT_IMAGE,
        sizes=[ProductSize(label=size.size, price=size.price) for size in body.sizes],
    )
    db_session().add(product)
    _commit("Another product already has this slug")
    return product


def update_product(product_id: int, body: ProductPatch) -> Product:
    product = _product(product_id)
    changes = body.model_dump(exclude_unset=True)
    if "category_id" in changes:
        product.category = _category(changes.pop("category_id"), field="categoryId")
    if "slug" in changes and _slug_taken(Product, changes["slug"], except_id=product.id):
        raise Conflict(f"Another product already has the slug {changes['slug']!r}")
    if "image" in changes:
        _check_image(changes["image"])
    for field, value in changes.items():
        setattr(product, field, value)
    _commit("Another product already has this slug")
    return product


def _has_size(product: Product, label: str, *, except_id: int | None = None) -> bool:
    """In any letter case, however typed: "Hũ" and "hũ" would read as one size to a shopper, at two
    prices."""
    return any(same_name(size.label, label) and size.id != except_id for size in product.sizes)


def add_size(product_id: int, body: SizeIn) -> ProductSize:
    product = _product(product_id)
    if _has_size(product, body.size):
        raise Conflict(f"Product {product_id} already has a size {body.size!r}")
    size = ProductSize(label=body.size, price=body.price)
    product.sizes.append(size)
    _commit(f"Product {product_id} already has a size {body.size!r}")
    return size


def update_size(product_id: int, size_id: int, body: SizePatch) -> ProductSize:
    product = _product(product_id)
    size = _size(product, size_id)
    if body.size is not None and _has_size(product, body.size, except_id=size.id):
        raise Conflict(f"Product {product_id} already has a size {body.size!r}")
    if body.size is not None:
        size.label = body.size
    if body.price is not None:
        size.price = body.price
    _commit(f"Product {product_id} already has a size {body.size!r}")
    return size


def remove_size(product_id: int, size_id: int) -> tuple[ProductSize, int]:
    """Take a size off sale: the size, and how many carts hold it. Their lines stay, shown as no
    longer on sale (never ordered), so the row is only marked removed."""
    product = _product(product_id, lock=True)
    size = _size(product, size_id)
    session = db_session()
    # One statement that re-counts under the write lock, so two removals racing on SQLite (where
    # the row lock above does not exist) cannot leave a product without sizes either.
    others = (select(func.count(ProductSize.id))
              .where(ProductSize.product_id == product.id, ProductSize.removed_at.is_(None))
              .scalar_subquery())
    removed = session.execute(
        update(ProductSize).where(ProductSize.id == size.id, ProductSize.removed_at.is_(None), others > 1)
        .values(removed_at=utcnow()).execution_options(synchronize_session=False))
    if not removed.rowcount:
        session.rollback()
        raise Conflict("A product needs at least one size; deactivate the product instead")
    carts = session.scalar(select(func.count(CartItem.id)).where(CartItem.size_id == size.id)) or 0
    session.commit()
    return size, carts


def carts_holding(product: Product) -> dict[int, int]:
    """How many carts hold each of the product's sizes (a cart has one line per size)."""
    rows = db_session().execute(
        select(CartItem.size_id, func.count(CartItem.id))
        .where(CartItem.size_id.in_([size.id for size in product.sizes])).group_by(CartItem.size_id))
    return dict(rows.all())


# ---- categories ------------------------------------------------------------------------------

def _check_category_unique(name: str | None, slug: str | None, except_id: int | None = None) -> None:
    # Case-insensitive in Python: SQLite's lower() leaves Vietnamese capitals alone. Shops have
    # a handful of categories, so reading their names is cheap.
    if name is not None:
        names = db_session().execute(select(Category.id, Category.name)).all()
        if any(same_name(other, name) and cid != except_id for cid, other in names):
            raise Conflict(f"A category named {name!r} already exists")
    if slug is not None and _slug_taken(Category, slug, except_id=except_id):
        raise Conflict(f"Another category already has the slug {slug!r}")


def create_category(body: CategoryIn) -> Category:
    slug = body.slug or slugify(body.name)[:120].strip("-")
    _check_category_unique(body.name, slug)
    category = Category(name=body.name, slug=slug, description=body.description)
    db_session().add(category)
    _commit("A category with this name or slug already exists")
    return category


def update_category(category_id: int, body: CategoryPatch) -> Category:
    category = _category(category_id)
    changes = body.model_dump(exclude_unset=True)
    _check_category_unique(changes.get("name"), changes.get("slug"), except_id=category.id)
    for field, value in changes.items():
        setattr(category, field, value)
    _commit("A category with this name or slug already exists")
    return category


def delete_category(category_id: int) -> None:
    category = _category(category_id)
    session = db_session()
    count = session.scalar(select(func.count(Product.id)).where(Product.category_id == category.id))
    if count:
        raise Conflict(f"Category {category.name!r} still has {count} products; move or remove them first",
                       details={"productCount": count})
    session.delete(category)
    _commit("The category gained products meanwhile; move or remove them first")
