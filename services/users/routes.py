"""Users API: registration, login, token verification, customers and roles, and the JWKS."""

from __future__ import annotations

import functools

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel

from services.kit.api import BEARER_AUTH, BODY_ERRORS, SpecResponse, error_responses, make_spec
from services.kit.app import current_config
from services.kit.auth import bearer_token, current_user, ensure_self_or_admin, require_auth, require_role
from services.kit.db import db_session
from services.kit.errors import APIError, Forbidden, Unauthorized, Unprocessable
from services.kit.events import emit_event
from services.kit.routing import ID

from . import accounts
from .models import Customer, Role
from .passwords import hash_password, needs_rehash, verify_password
from .ratelimit import wrong_password
from .schemas import (
    AuthOut,
    CustomerPage,
    CustomerQuery,
    Jwks,
    LoginIn,
    PasswordChange,
    ProfileUpdate,
    RegisterIn,
    RoleUpdate,
    UserOut,
    VerifyIn,
    VerifyOut,
)

spec = make_spec("SweetDream users")
auth_bp = Blueprint("auth", __name__)
customers_bp = Blueprint("customers", __name__)
keys_bp = Blueprint("keys", __name__)

# Documented with BODY_ERRORS (422 is added by spectree): missing/invalid tokens or someone
# else's resource.
AUTH_ERRORS = (401, 403)


def responses(*errors: int | tuple[int, ...], no_content: bool = False, **models) -> SpecResponse:
    """SpecResponse with the given success models plus ErrorResponse for each error status."""
    codes = [code for e in errors for code in (e if isinstance(e, tuple) else (e,))]
    return SpecResponse(*(["HTTP_204"] if no_content else []), **models,
                        **error_responses(*codes))


INVALID_LOGIN = "Incorrect e-mail or password"


def _json(model: BaseModel, status: int = 200):
    return jsonify(model.model_dump(mode="json", by_alias=True)), status


def _user(customer: Customer) -> UserOut:
    return UserOut.model_validate(customer)


def _token_for(customer: Customer) -> str:
    return current_app.extensions["token_issuer"].issue(customer)


def self_or_admin(view):
    """403 unless the caller is the `customer_id` of the URL or an admin (before body validation)."""
    @functools.wraps(view)
    def wrapper(*args, customer_id: int, **kwargs):
        if ensure_self_or_admin(customer_id).id != customer_id:
            accounts.ensure_still_admin(db_session(), current_user().id)
        return view(*args, customer_id=customer_id, **kwargs)
    return wrapper


def admin_only(view):
    """An admin's token, of an account that is an admin now: the token of an admin demoted since
    opens nothing here (the other services honour it until it expires)."""
    @functools.wraps(view)
    @require_role("ADMIN")
    def wrapper(*args, **kwargs):
        accounts.ensure_still_admin(db_session(), current_user().id)
        return view(*args, **kwargs)
    return wrapper


def _require_body(body):
    # spectree skips JSON validation for form content types; an empty form body lands here.
    if body is None:
        raise APIError("Send the request body as application/json", status=415,
                       code="unsupported_media_type")
    return body


@auth_bp.post("/api/auth/register")
@spec.validate(resp=responses(BODY_ERRORS, 409, 429, HTTP_201=AuthOut), tags=["auth"])
def register(json: RegisterIn):
    body = _require_body(json)
    session = db_session()
    if accounts.find_by_email(session, body.email) is not None:
        raise accounts.email_taken()
    customer = accounts.create_customer(
        session, email=body.email, name=body.name, phone=body.phone, address=body.address,
        password_hash=hash_password(body.password, current_config().bcrypt_rounds))
    session.commit()
    token = _token_for(customer)
    emit_event("User Registered", {}, user_id=customer.id)
    return _json(AuthOut(token=token, user=_user(customer)), 201)


@auth_bp.post("/api/auth/login")
@spec.validate(resp=responses(BODY_ERRORS, 401, 429, HTTP_200=AuthOut),
               tags=["auth"])
def login(json: LoginIn):
    body = _require_body(json)
    rounds = current_config().bcrypt_rounds
    session = db_session()
    customer = accounts.find_by_email(session, body.email)
    # Unknown e-mail and wrong password: same bcrypt work, same answer.
    if not verify_password(body.password, customer.password_hash if customer else None, rounds):
        wrong_password()
        raise Unauthorized(INVALID_LOGIN, code="invalid_credentials")
    if needs_rehash(customer.password_hash, rounds):
        customer.password_hash = hash_password(body.password, rounds)
        session.commit()
    token = _token_for(customer)  # before the event: a login that fails to sign did not happen
    emit_event("User Login", {}, user_id=customer.id)
    return _json(AuthOut(token=token, user=_user(customer)))


@auth_bp.post("/api/auth/verify")
@spec.validate(resp=responses(BODY_ERRORS, 401, HTTP_200=VerifyOut), tags=["auth"],
               security=BEARER_AUTH)
def verify(json: VerifyIn):
    """Check a token (in the body or as a Bearer header) and return its account as it is now."""
    token = (json.token if json else None) or bearer_token()
    if not token:
        raise Unauthorized("Send a token in the body or an Authorization: Bearer header",
                           headers={"WWW-Authenticate": "Bearer"})
    principal = current_app.extensions["token_verifier"].verify(token)
    customer = accounts.find_customer(db_session(), principal.id)
    if customer is None:
        raise Unauthorized("The token's account no longer exists", code="invalid_token")
    return _json(VerifyOut(valid=True, user=_user(customer)))


@customers_bp.get("/api/customers")
@admin_only
@spec.validate(query=CustomerQuery, resp=responses(AUTH_ERRORS, HTTP_200=CustomerPage), tags=["customers"],
               security=BEARER_AUTH)
def list_customers(query: CustomerQuery):
    items, total = accounts.list_customers(db_session(), query=query.q, page=query.page,
                                           page_size=query.page_size, ids=query.id_list)
    return _json(CustomerPage(items=[_user(c) for c in items], total=total, page=query.page,
                              page_size=query.page_size))


@customers_bp.get(f"/api/customers/<{ID}:customer_id>")
@self_or_admin
@spec.validate(resp=responses(AUTH_ERRORS, 404, HTTP_200=UserOut),
               tags=["customers"], security=BEARER_AUTH)
def get_customer(customer_id: int):
    return _json(_user(accounts.get_customer(db_session(), customer_id)))


@customers_bp.patch(f"/api/customers/<{ID}:customer_id>")
@self_or_admin
@spec.validate(resp=responses(BODY_ERRORS, AUTH_ERRORS, 404, HTTP_200=UserOut),
               tags=["customers"], security=BEARER_AUTH)
def update_customer(customer_id: int, json: ProfileUpdate):
    body = _require_body(json)
    session = db_session()
    customer = accounts.get_customer(session, customer_id)
    for field in body.model_fields_set:
        setattr(customer, field, getattr(body, field))
    session.commit()
    return _json(_user(customer))


@customers_bp.put(f"/api/customers/<{ID}:customer_id>/password")
@require_auth
@spec.validate(resp=responses(BODY_ERRORS, AUTH_ERRORS, 404, 429, no_content=True),
               tags=["customers"], security=BEARER_AUTH)
def change_password(customer_id: int, json: PasswordChange):
    """Only the account itself, and only with its current password (admins included)."""
    if current_user().id != customer_id:
        raise Forbidden("You may only change your own password")
    body = _require_body(json)
    rounds = current_config().bcrypt_rounds
    session = db_session()
    customer = accounts.get_customer(session, customer_id)
    if not verify_password(body.current_password, customer.password_hash, rounds):
        wrong_password()
        # 422, not 401: the caller's token is fine, only this field is wrong.
        raise Unprocessable("The current password is incorrect", details=[
            {"field": "currentPassword", "message": "is incorrect", "type": "wrong_password"}])
    customer.password_hash = hash_password(body.new_password, rounds)
    session.commit()
    return "", 204


@customers_bp.patch(f"/api/customers/<{ID}:customer_id>/role")
@admin_only
@spec.validate(resp=responses(BODY_ERRORS, AUTH_ERRORS, 404, 409, HTTP_200=UserOut),
               tags=["customers"], security=BEARER_AUTH)
def set_role(customer_id: int, json: RoleUpdate):
    body = _require_body(json)
    session = db_session()
    customer = accounts.set_role(session, accounts.get_customer(session, customer_id), Role(body.role),
                                 by=current_user().id)
    session.commit()
    return _json(_user(customer))


@customers_bp.patch("/api/customers/email/<path:email>/role")
@admin_only
@spec.validate(resp=responses(BODY_ERRORS, AUTH_ERRORS, 404, 409, HTTP_200=UserOut),
               tags=["customers"], security=BEARER_AUTH)
def set_role_by_email(email: str, json: RoleUpdate):
    body = _require_body(json)
    session = db_session()
    customer = accounts.set_role(session, accounts.get_by_email(session, email), Role(body.role),
                                 by=current_user().id)
    session.commit()
    return _json(_user(customer))


@keys_bp.get("/.well-known/jwks.json")
@spec.validate(resp=responses(HTTP_200=Jwks), tags=["keys"])
def jwks():
    """The public key other services verify tokens with."""
    response, status = _json(Jwks.model_validate({"keys": [current_app.extensions["signing_key"].jwk()]}))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response, status
