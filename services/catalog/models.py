"""Categories, products and their sizes, and shopping carts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from services.kit.db import utcnow
from services.kit.text import normalize

QUANTITY_MAX = 99  # per cart line, as the shop allows


class Base(DeclarativeBase):
    # Named constraints, identical on PostgreSQL and SQLite, so later migrations can refer to them.
    metadata = MetaData(naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    })


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    search_name: Mapped[str] = mapped_column(String(100), default="")  # normalize(name)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    # passive_deletes: the database refuses to delete a category that still has products.
    products: Mapped[list[Product]] = relationship(back_populates="category", passive_deletes="all")

    @validates("name")
    def _keep_search_name(self, _key: str, value: str) -> str:
        self.search_name = normalize(value)
        return value


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_category_active", "category_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str] = mapped_column(String(100))  # a file under static/images/
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Normalised copies for accent-insensitive search, kept in step by the validators below.
    search_name: Mapped[str] = mapped_column(String(200), default="")
    search_description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    category: Mapped[Category] = relationship(back_populates="products", lazy="joined")
    # The sizes on sale: a removed size stays as a row, for the cart lines that still name it.
    sizes: Mapped[list[ProductSize]] = relationship(
        back_populates="product", cascade="all, delete-orphan", passive_deletes=True,
        primaryjoin=lambda: and_(Product.id == ProductSize.product_id, ProductSize.removed_at.is_(None)),
        order_by=lambda: [ProductSize.price, ProductSize.id])

    @validates("name")
    def _keep_search_name(self, _key: str, value: str) -> str:
        self.search_name = normalize(value)
        return value

    @validates("description")
    def _keep_search_description(self, _key: str, value: str) -> str:
        self.search_description = normalize(value)
        return value

    @property
    def min_price(self) -> int | None:
        return min((size.price for size in self.sizes), default=None)


class ProductSize(Base):
    __tablename__ = "product_sizes"
    __table_args__ = (
        # Among live sizes only, so an admin may add back a label removed earlier.
        Index("uq_product_sizes_product_label_live", "product_id", "label", unique=True,
              postgresql_where=text("removed_at IS NULL"), sqlite_where=text("removed_at IS NULL")),
        CheckConstraint("price >= 0", name="ck_product_sizes_price"),
        Index("ix_product_sizes_label_price", "label", "price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(20))  # "12cm", "Hộp 6 cái"
    price: Mapped[int] = mapped_column(Integer)  # VND
    # Set when an admin removes the size: it leaves the catalog, and cart lines holding it show it as
    # no longer on sale (never ordered) instead of vanishing.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    product: Mapped[Product] = relationship(back_populates="sizes")


class Cart(Base):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", passive_deletes=True,
        order_by="CartItem.id")


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        # Two simultaneous adds of the same cake and size meet here and merge (see carts.py).
        UniqueConstraint("cart_id", "product_id", "size_id", name="uq_cart_items_cart_product_size"),
        CheckConstraint(f"quantity BETWEEN 1 AND {QUANTITY_MAX}", name="ck_cart_items_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    # A removed size is only marked (ProductSize.removed_at): the line stays, unavailable.
    size_id: Mapped[int] = mapped_column(ForeignKey("product_sizes.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    cart: Mapped[Cart] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(lazy="joined")
    size: Mapped[ProductSize] = relationship(lazy="joined")
