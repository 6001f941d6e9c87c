"""The users service's tables: customer accounts, and the login attempts its limiter counts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Float, Index, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from services.kit.db import utcnow
from services.kit.text import normalize


class Base(DeclarativeBase):
    pass


class Role(StrEnum):
    CUSTOMER = "CUSTOMER"
    ADMIN = "ADMIN"


EMAIL_MAX = 254
NAME_MAX = 100
PHONE_MAX = 20
ADDRESS_MAX = 500
# A limiter key is stored as its SHA-256 in hex, 64 characters (ratelimit.stored_key); the column
# keeps the length it was created with, when the keys were e-mails.
RATE_LIMIT_KEY_MAX = 400


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("role IN ('CUSTOMER', 'ADMIN')", name="ck_customers_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    password_hash: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # The name folded (no accents, any case) for the admin's search, kept in step by the validator.
    search_name: Mapped[str] = mapped_column(String(NAME_MAX), default="", server_default="")
    phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    role: Mapped[str] = mapped_column(String(16), default=Role.CUSTOMER.value)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @validates("name")
    def _keep_search_name(self, _key: str, value: str) -> str:
        self.search_name = normalize(value)
        return value


# Case-insensitive uniqueness enforced by the database itself, on PostgreSQL and SQLite alike;
# the application also stores e-mails lower-cased and looks them up through this index.
EMAIL_INDEX = Index("uq_customers_email_lower", func.lower(Customer.email), unique=True)


class RateLimitEntry(Base):
    """One counted login attempt (services/users/ratelimit.py): in the database, so every worker
    and task of the service counts against the same limits."""

    __tablename__ = "rate_limit_entries"
    __table_args__ = (
        Index("ix_rate_limit_entries_key_expires", "key", "expires_at"),
        Index("ix_rate_limit_entries_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(RATE_LIMIT_KEY_MAX))
    # Seconds since the epoch, as the limits library counts them.
    at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
