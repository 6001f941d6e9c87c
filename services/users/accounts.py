"""Data functions for customer accounts; the caller owns the session and commits."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.kit.db import MAX_ID, violated_constraint
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.text import tokens

from .models import EMAIL_INDEX, Customer, Role
from .schemas import normalise_email


def find_by_email(session: Session, email: str) -> Customer | None:
    # lower() on both sides uses the case-insensitive unique index.
    return session.scalar(select(Customer).where(func.lower(Customer.email) == email.lower()))


def find_customer(session: Session, customer_id: int) -> Customer | None:
    if not 1 <= customer_id <= MAX_ID:  # beyond the column's range: no such row, not a DB error
        return None
    return session.get(Customer, customer_id)


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = find_customer(session, customer_id)
    if customer is None:
        raise NotFound(f"Customer {customer_id} not found")
    return customer


def get_by_email(session: Session, email: str) -> Customer:
    try:
        customer = find_by_email(session, normalise_email(email))
    except ValueError:  # not an e-mail address at all
        customer = None
    if customer is None:
        raise NotFound(f"No customer with e-mail {email}")
    return customer


def email_taken() -> Conflict:
    return Conflict("An account with this e-mail already exists", code="email_taken")


def create_customer(session: Session, *, email: str, password_hash: str, name: str,
                    phone: str | None = None, address: str | None = None,
                    role: Role = Role.CUSTOMER) -> Customer:
    customer = Customer(email=email.lower(), password_hash=password_hash, name=name, phone=phone,
                        address=address, role=role.value)
    session.add(customer)
    try:
        session.flush()
    except IntegrityError as exc:
        # Only the unique index means a concurrent registration took the e-mail; any other
        # violation is a bug, for the kit to log and answer as a database error.
        if violated_constraint(exc) != EMAIL_INDEX.name:
            raise
        session.rollback()
        raise email_taken() from exc
    return customer


def set_role(session: Session, customer: Customer, role: Role, *, by: int | None) -> Customer:
    """Change a role for admin `by` (None: the operator's command line): 403 unless `by` is an admin
    now, 409 rather than leave the shop without an admin."""
    # Lock every admin row (PostgreSQL): two admins demoting each other at once leave one, and a
    # demoted admin's token, still valid elsewhere until it expires, cannot undo the demotion.
    admins = {admin.id for admin in session.scalars(
        select(Customer).where(Customer.role == Role.ADMIN.value).with_for_update()
        .execution_options(populate_existing=True))}
    if by is not None and by not in admins:
        raise no_longer_admin()
    if customer.id in admins and role != Role.ADMIN and len(admins) <= 1:
        raise Conflict("The last admin cannot be demoted; promote another admin first", code="last_admin")
    customer.role = role.value
    session.flush()
    return customer


def ensure_still_admin(session: Session, caller_id: int) -> None:
    """The caller's token says ADMIN; users owns the roles, so it asks its own table as well."""
    caller = find_customer(session, caller_id)
    if caller is None or caller.role != Role.ADMIN:
        raise no_longer_admin()


def no_longer_admin() -> Forbidden:
    return Forbidden("Requires role ADMIN: this account is no longer an admin")


def _matching(query: str) -> ColumnElement[bool]:
    """Part of the e-mail or name as typed, any case; or every word of the name without accents
    ("nguyen lan" finds "Nguyễn Thị Lan"), as the catalog's search folds them."""
    needle = query.lower()
    as_typed = [func.lower(Customer.email).contains(needle, autoescape=True),
                func.lower(Customer.name).contains(needle, autoescape=True)]
    words = tokens(query)
    # Folded words are [0-9a-z]+, so they carry no LIKE wildcards to escape.
    folded = [and_(*[Customer.search_name.contains(word) for word in words])] if words else []
    return or_(*as_typed, *folded)


def list_customers(session: Session, *, query: str | None, page: int, page_size: int,
                   ids: list[int] | None = None) -> tuple[list[Customer], int]:
    conditions = []
    if query:
        conditions.append(_matching(query))
    if ids is not None:  # an id beyond the column's range names nobody, and is no database error
        conditions.append(Customer.id.in_([i for i in ids if 1 <= i <= MAX_ID]))
    count = select(func.count()).select_from(Customer).where(*conditions)
    items = (select(Customer).where(*conditions).order_by(Customer.id)
             .limit(page_size).offset((page - 1) * page_size))
    return list(session.scalars(items)), session.scalar(count) or 0
