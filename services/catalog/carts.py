"""Shopping carts: one per customer, one line per product and size, quantities 1–99."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Insert, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from services.kit.api import ORDER_LINES_MAX
from services.kit.auth import Principal
from services.kit.db import PerDialect, db_session, utcnow
from services.kit.errors import Conflict, Forbidden, NotFound, Unprocessable

from .models import QUANTITY_MAX, Cart, CartItem, Product, ProductSize
from .schemas import unavailable_reason

# A lost race on the unique constraints (cart per customer, line per product+size) is retried;
# the retry finds the winner's row and merges into it.
MERGE_ATTEMPTS = 3


@dataclass(frozen=True)
class Added:
    item: CartItem
    created: bool


def _field_error(field: str, message: str, code: str) -> Unprocessable:
    return Unprocessable("Request validation failed",
                         details=[{"field": field, "message": message, "type": code}])


def _purchasable(product_id: int, size_label: str) -> tuple[Product, ProductSize]:
    product = db_session().scalars(
        select(Product).options(joinedload(Product.sizes)).where(Product.id == product_id)).unique().first()
    if product is None or not product.active:
        raise _field_error("productId", f"product {product_id} is not for sale", "unknown_product")
    size = next((s for s in product.sizes if s.label == size_label), None)
    if size is None:
        offered = ", ".join(s.label for s in product.sizes)
        raise _field_error("size", f"{product.name} comes in: {offered}", "unknown_size")
    return product, size


def _cart_id(customer_id: int) -> int:
    """The customer's cart, locked until the transaction ends: adds to one cart take turns, so two
    at once cannot both take its last free line."""
    session = db_session()
    cart_id = session.scalar(select(Cart.id).where(Cart.customer_id == customer_id).with_for_update())
    if cart_id is None:
        cart = Cart(customer_id=customer_id)
        session.add(cart)
        session.flush()  # IntegrityError here when a concurrent request created it first
        cart_id = cart.id
    return cart_id


_LIVE_SIZE = (select(ProductSize.id)
              .where(ProductSize.id == bindparam("size_id"), ProductSize.removed_at.is_(None))
              .with_for_update(read=True))


def add_item(customer_id: int, product_id: int, size_label: str, quantity: int) -> Added:
    """Add to the customer's cart, merging with an existing line for the same product and size."""
    product, size = _purchasable(product_id, size_label)
    session = db_session()
    for _attempt in range(MERGE_ATTEMPTS):
        try:
            # Shares the size row's lock with other adds, against its removal: an add waits for a
            # removal under way and is then refused, and a removal waits for adds under way and
            # then counts their carts (PostgreSQL; SQLite has no row locks).
            if session.scalar(_LIVE_SIZE, {"size_id": size.id}) is None:
                raise _field_error("size", f"{product.name} no longer comes in {size_label}", "unknown_size")
            cart_id = _cart_id(customer_id)
            now = utcnow()
            # One atomic upsert, so concurrent merges add up instead of overwriting each other; the
            # cap is its WHERE, so a merge past it returns no row.
            row = session.execute(_MERGE_LINE.for_session(session), {
                "cart_id": cart_id, "product_id": product_id, "size_id": size.id,
                "quantity": quantity, "created_at": now, "updated_at": now}).first()
            if row is None:
                current = session.scalar(select(CartItem.quantity).where(
                    CartItem.cart_id == cart_id, CartItem.product_id == product_id,
                    CartItem.size_id == size.id))
                raise _field_error(
                    "quantity", f"the cart already holds {current}; at most {QUANTITY_MAX} "
                                "of one cake and size fit in a cart", "too_many")
            if row[1] == quantity and _lines_in(cart_id) > ORDER_LINES_MAX:  # a new line, one too many
                session.rollback()
                raise Conflict(f"The cart already holds {ORDER_LINES_MAX} different cakes and sizes, "
                               "as many as one order takes; order or remove some first",
                               code="cart_full", details={"maxLines": ORDER_LINES_MAX})
            session.commit()
            break
        except IntegrityError:  # the cart was created by a concurrent request: find it and retry
            session.rollback()
    else:
        raise Conflict("The cart changed while adding; please try again")
    item_id, total, updated_at = row
    item = CartItem(id=item_id, cart_id=cart_id, product_id=product_id, size_id=size.id,
                    quantity=total, updated_at=updated_at, product=product, size=size)
    # A merge always ends above the quantity added, since a line holds at least one.
    return Added(item=item, created=total == quantity)


def _lines_in(cart_id: int) -> int:
    return db_session().scalar(select(func.count()).select_from(CartItem).where(CartItem.cart_id == cart_id))


def _merge_line(dialect) -> Insert:
    # A merge leaves `updated_at`, the moment the quantity was last set, as it was: an order placed
    # before this add still takes what it bought off the line (remove_ordered), and the add stays.
    statement = dialect.insert(CartItem.__table__)
    line = CartItem.__table__.c
    return statement.on_conflict_do_update(
        index_elements=["cart_id", "product_id", "size_id"],
        set_={"quantity": line.quantity + statement.excluded.quantity},
        where=line.quantity + statement.excluded.quantity <= QUANTITY_MAX,
    ).returning(line.id, line.quantity, line.updated_at)


_MERGE_LINE = PerDialect(_merge_line)


def cart_items(customer_id: int) -> list[CartItem]:
    return list(db_session().scalars(
        select(CartItem).join(CartItem.cart).where(Cart.customer_id == customer_id)
        .order_by(CartItem.id)).unique())


def _owned_item(item_id: int, user: Principal) -> CartItem:
    item = db_session().get(CartItem, item_id)
    if item is None:
        raise NotFound(f"Cart item {item_id} not found")
    if item.cart.customer_id != user.id:
        raise Forbidden("You may only change your own cart")
    return item


def set_quantity(item_id: int, quantity: int, user: Principal) -> CartItem:
    item = _owned_item(item_id, user)
    reason = unavailable_reason(item)
    if reason is not None:  # never ordered: a quantity would only show as if it counted
        raise Conflict(f"{item.product.name} ({item.size.label}) is no longer on sale; remove the line "
                       "instead", code="not_on_sale", details={"reason": reason})
    item.quantity = quantity
    item.updated_at = utcnow()  # even to the quantity it had: set after an order, the line stays as set
    db_session().commit()
    return item


def remove_item(item_id: int, user: Principal) -> None:
    session = db_session()
    session.delete(_owned_item(item_id, user))
    session.commit()


def clear(customer_id: int, before: datetime | None = None) -> None:
    """Empty a customer's cart (after checkout), or only the lines created or set at or before
    `before`: a line created after the order survives a clear that arrives late. Clearing an empty
    cart is fine."""
    session = db_session()
    if before is None:
        session.execute(_DELETE_CART, {"customer_id": customer_id})  # lines go by cascade
    else:
        session.execute(_DELETE_LINES_BEFORE, {"customer_id": customer_id,
                                               "before": before.astimezone(UTC)})
    session.commit()


def remove_ordered(customer_id: int, ordered_at: datetime, lines: list[tuple[int, str, int]]) -> None:
    """Take what an order bought out of the cart: each (product, size, quantity) ordered comes off its
    line, and a line left with nothing goes. Lines the order did not buy stay, and so do lines created
    or set to a quantity after `ordered_at` (the shopper's new choice); cakes added to a line after it
    stay on top of what is left. The lines it changes are marked as set after `ordered_at` whatever
    this host's clock says, so a retry of the same call finds nothing to take."""
    session = db_session()
    ordered: Counter[tuple[int, str]] = Counter()
    for product_id, size, quantity in lines:  # one cake and size twice in an order: one line here
        ordered[product_id, size] += quantity
    changed_at = max(utcnow(), ordered_at + timedelta(microseconds=1))
    # Parameter names differ from the columns': an UPDATE keeps those for its SET clause.
    params = [{"customer": customer_id, "product": product_id, "size": size, "ordered": quantity,
               "ordered_at": ordered_at.astimezone(UTC), "changed_at": changed_at}
              for (product_id, size), quantity in ordered.items()]
    connection = session.connection()
    removed = connection.execute(_REMOVE_ORDERED_LINE, params).rowcount
    if removed != len(params):  # an order mostly takes whole lines: then there is nothing to lower
        connection.execute(_TAKE_ORDERED_QUANTITY, params)
    session.commit()


# Core, built once: orders clears a cart after every order placed.
_DELETE_CART = delete(Cart.__table__).where(Cart.__table__.c.customer_id == bindparam("customer_id"))
_DELETE_LINES_BEFORE = delete(CartItem.__table__).where(
    CartItem.__table__.c.cart_id == select(Cart.id).where(
        Cart.customer_id == bindparam("customer_id")).scalar_subquery(),
    CartItem.__table__.c.updated_at <= bindparam("before"))

_items = CartItem.__table__.c
_ORDERED_LINE = (
    _items.cart_id == select(Cart.id).where(Cart.customer_id == bindparam("customer")).scalar_subquery(),
    _items.product_id == bindparam("product"),
    _items.size_id == select(ProductSize.id).where(
        ProductSize.product_id == bindparam("product"), ProductSize.label == bindparam("size"),
        ProductSize.removed_at.is_(None),
    ).scalar_subquery(),
    _items.updated_at <= bindparam("ordered_at"),
)
# The line goes when the order took all of it; otherwise the order's quantity comes off it.
_REMOVE_ORDERED_LINE = delete(CartItem.__table__).where(
    *_ORDERED_LINE, _items.quantity <= bindparam("ordered"))
_TAKE_ORDERED_QUANTITY = update(CartItem.__table__).where(
    *_ORDERED_LINE, _items.quantity > bindparam("ordered")).values(
    quantity=_items.quantity - bindparam("ordered"), updated_at=bindparam("changed_at"))
