"""Request and response bodies (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services.kit.api import CamelModel
from services.kit.db import as_utc
from services.kit.text import MULTI_LINE, SINGLE_LINE

from .models import ADDRESS_MAX, EMAIL_MAX, NAME_MAX, PHONE_MAX
from .passwords import MAX_PASSWORD_BYTES, check_password_policy


def normalise_email(value: str) -> str:
    """Syntax-checked (no DNS lookups) and lower-cased: the one form e-mails are stored in."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return result.normalized.lower()


def _empty_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


Email = Annotated[str, Field(min_length=3, max_length=EMAIL_MAX, json_schema_extra={"format": "email"}),
                  AfterValidator(normalise_email)]
NewPassword = Annotated[str, Field(min_length=8, max_length=MAX_PASSWORD_BYTES),
                        AfterValidator(check_password_policy)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=SINGLE_LINE)]
def _clearable(text_type):
    """Optional text that null or "" clears (HTML forms send emptied fields as ""), documented so."""
    schema = {"anyOf": [TypeAdapter(text_type).json_schema(), {"type": "string", "const": ""},
                        {"type": "null"}]}
    return Annotated[text_type | None, BeforeValidator(_empty_is_none), WithJsonSchema(schema)]


# "+84 90 123 4567", "090-123-4567", a landline as written "(028) 3822 1234".
Phone = _clearable(Annotated[str, Field(min_length=6, max_length=PHONE_MAX,
                                        pattern=r"^\+?\(?[0-9][0-9 ().-]*$")])
Address = _clearable(Annotated[str, Field(min_length=1, max_length=ADDRESS_MAX, pattern=MULTI_LINE)])
RoleName = Literal["CUSTOMER", "ADMIN"]


class RegisterIn(CamelModel):
    email: Email
    password: NewPassword
    name: Name
    phone: Phone = None
    address: Address = None


class LoginEmail(CamelModel):
    """A login's e-mail as the login reads it (trimmed, then normalised): the account it is for,
    and so the key its attempts are throttled by (services/users/ratelimit.py)."""

    email: Email


class LoginIn(LoginEmail):
    # Not the registration policy: a login only has to be checked, never stored.
    password: str = Field(min_length=1, max_length=1024)


class VerifyIn(CamelModel):
    token: str | None = Field(default=None, min_length=1, max_length=4096)


class ProfileUpdate(CamelModel):
    """What a customer may change about themselves; role and e-mail are not among it."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name: Name = None  # optional, but never null: a customer always has a name
    phone: Phone = None
    address: Address = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ProfileUpdate:
        if not self.model_fields_set:
            raise ValueError("Send at least one of name, phone, address")
        return self


class PasswordChange(CamelModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: NewPassword


class RoleUpdate(CamelModel):
    role: RoleName


class CustomerQuery(CamelModel):
    q: str | None = Field(default=None, max_length=100, pattern=SINGLE_LINE,
                          description="Part of an e-mail or name, any case; name words match "
                                      "without accents too (nguyen finds Nguyễn)")
    ids: str | None = Field(default=None, pattern=r"^[0-9]{1,10}(,[0-9]{1,10}){0,99}$",
                            description="Only these customers: up to 100 comma-separated ids (the "
                                        "customers of a page of orders)")
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=100)

    @property
    def id_list(self) -> list[int] | None:
        return [int(part) for part in self.ids.split(",")] if self.ids else None


class UserOut(CamelModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    phone: str | None
    address: str | None
    role: RoleName
    created_at: datetime
    updated_at: datetime

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class AuthOut(CamelModel):
    token: str
    user: UserOut


class VerifyOut(CamelModel):
    valid: Literal[True]
    user: UserOut


class CustomerPage(CamelModel):
    items: list[UserOut]
    total: int
    page: int
    page_size: int


class Jwk(CamelModel):
    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str
    y: str
    kid: str
    alg: Literal["ES256"]
    use: Literal["sig"]


class Jwks(CamelModel):
    keys: list[Jwk]
