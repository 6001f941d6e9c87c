"""OpenAPI generated from the code (spectree + pydantic), with our error shape for bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from spectree import Response as SpecResponse  # noqa: F401  (re-exported for the services)
from spectree import SecurityScheme, SpecTree
from spectree.model_adapter.pydantic_adapter import PydanticModelAdapter
from spectree.models import SecureType, SecuritySchemeData

from .db import MAX_ID
from .errors import pydantic_details

BEARER_SCHEME = "bearerAuth"
# `spec.validate(security=BEARER_AUTH)`: the view needs a token (documented in the OpenAPI).
BEARER_AUTH = {BEARER_SCHEME: []}
# Every JSON body can be malformed (400), too large (413) or not JSON at all (415).
BODY_ERRORS = (400, 413, 415)
# Lines in one order: orders takes at most this many, so a cart holds at most this many and the
# catalog prices (and takes from a cart) at most this many at once.
ORDER_LINES_MAX = 100

# An id in a body or query. Strict: JSON `true`, "3" or 1.5 is not an id.
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]

# The days a request may name: any a person could mean, and a year clear of Python's own limits
# (0001-01-01, 9999-12-31), so that moving one by a time zone or a few days cannot overflow (a 500).
FIRST_DAY, LAST_DAY = date(2, 1, 1), date(9998, 12, 31)


def _day_in_reach(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return day


def _moment_in_reach(moment: datetime) -> datetime:
    _day_in_reach(moment.date())  # its own calendar day: then its day in UTC is representable too
    return moment.astimezone(UTC)


# Every date and moment a request carries: a calendar day, and an instant given with its UTC
# offset (handed to the view in UTC).
Day = Annotated[date, AfterValidator(_day_in_reach)]
Moment = Annotated[AwareDatetime, AfterValidator(_moment_in_reach)]


class CamelModel(BaseModel):
    """API bodies are camelCase JSON; Python code uses snake_case attributes."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_strip_whitespace=True)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_responses(*statuses: int) -> dict[str, type[ErrorResponse]]:
    """Documents the error shape for each status, for `SpecResponse(**error_responses(401, 403))`."""
    return {f"HTTP_{status}": ErrorResponse for status in statuses}


class _ModelAdapter(PydanticModelAdapter):
    """Spectree serialises a request's validation errors before our `before` hook re-raises them.
    Its own list echoed the input, which it then could not send when that held a lone surrogate
    ("\\ud800" in a JSON string): a 500 on every service. Ours is the kit's, input-free details."""

    def validation_errors(self, err):
        return pydantic_details(err)


def _raise_validation_error(_req, _resp, req_validation_error, _instance, _adapter=None):
    # Spectree would answer with its own body; re-raise so the kit's 422 handler answers instead.
    if req_validation_error is not None:
        raise req_validation_error


class _SpecTree(SpecTree):
    """Spectree marks every JSON body required. A missing body is validated as `{}`, so a body model
    that accepts `{}` (cancel's) may be left out: the OpenAPI says so. A PATCH that needs at least
    one field stays required. Every operation may also answer 503: the kit's answer when the
    service's database (or an upstream) cannot be reached, which no view declares itself."""

    def __init__(self, *args, **kwargs):
        self._model_classes: dict[str, type[BaseModel]] = {}
        super().__init__(*args, **kwargs)

    def _add_model(self, model, mode="validation") -> str:
        key = super()._add_model(model, mode)
        self._model_classes[key] = model
        return key

    def _generate_spec(self) -> dict:
        error_schema = {"$ref": f"#/components/schemas/{self._add_model(ErrorResponse)}"}
        spec = super()._generate_spec()
        for operations in spec["paths"].values():
            for operation in operations.values():
                operation["responses"].setdefault("503", {
                    "description": "Service Unavailable",
                    "content": {"application/json": {"schema": error_schema}}})
                body = operation.get("requestBody")
                if body and "application/json" in body["content"]:
                    key = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                    body["required"] = not _accepts_nothing(self._model_classes[key])
        return spec


def _accepts_nothing(model: type[BaseModel]) -> bool:
    try:
        model.model_validate({})
    except ValidationError:
        return False
    return True


def make_spec(title: str) -> SpecTree:
    """One per service module, shared by its blueprints; `register_spec` attaches it to an app."""
    return _SpecTree(
        "flask",
        title=title,
        version="1.0.0",
        mode="strict",
        annotations=True,
        before=_raise_validation_error,
        model_adapter=_ModelAdapter(),
        validation_error_model=ErrorResponse,
        security_schemes=[SecurityScheme(name=BEARER_SCHEME,
                                         data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer",
                                                                bearer_format="JWT"))],
    )
