"""Schemas every router shares: the one error body, and input types whose bounds the OpenAPI schema states."""

from datetime import UTC, datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

# Text a client sends: no NUL character (PostgreSQL cannot store one in text, nor look one up).
SafeStr = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]

# A row's id in a path or a body: positive and within a 64-bit integer, as the databases store it.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _not_bool(value: Any) -> Any:
    """pydantic reads true/false as 1/0 for a number; the schema says a number, so only a number."""
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


# Numbers in a body: JSON numbers only (true/false refused), ints where the schema says integer.
Number = Annotated[float, BeforeValidator(_not_bool)]
Integer = Annotated[int, BeforeValidator(_not_bool)]


def _iso_only(value: Any) -> Any:
    """pydantic would read a number as a Unix time; the schema says an ISO 8601 date-time, so only that."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date out of range") from None


# A time filter: any UTC offset is accepted and turned into UTC (PostgreSQL refuses offsets beyond ±15:59).
UtcDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_to_utc)]


class FieldError(Schema):
    loc: list[str | int] = Field(description='where: ["query", "limit"], ["body", "payload", "name"], ...')
    msg: str
    type: str


class Error(Schema):
    """Every 4xx answer of the API has this body."""

    code: str = Field(
        description="bad_request, unauthorized, not_found, conflict, invalid (a refused value) or validation_error"
    )
    detail: str = Field(description="what went wrong, for people")
    errors: list[FieldError] = Field(default_factory=list, description="one entry per invalid field")


def error_body(code: str, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"code": code, "detail": detail, "errors": errors or []}
