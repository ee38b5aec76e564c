"""Errors: the HTML 404/500 pages, and the JSON API's one application error with its one exception handler.

A service or an API handler raises an ``AppError`` (or a subclass) for a client's mistake; ``install`` turns it,
and every error ninja and Django raise on the way (bad JSON, invalid parameters, a missing key, a 404), into the
same body, ``peekr_web.schemas.Error``: ``{"code", "detail", "errors"}``. Nothing a client sends answers 500.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import render
from ninja.errors import HttpError, ValidationError

from peekr_web.schemas import error_body


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/v1/"):  # exporters and the SDK read OTLP/JSON error bodies, not a page
        from traces import wire

        return wire.server_error(request)
    return render(request, "500.html", status=500)


def sentence(error: Exception | str) -> str:
    """An error's message as a sentence for a page (capitalised, one full stop): forms and flash messages."""
    text = str(error)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


class AppError(Exception):
    """A request the application refuses; ``detail`` is shown to the client as is."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Invalid(AppError):
    """Well-formed, but a value is refused (an unknown evaluator, a label not in the taxonomy...)."""

    code = "invalid"


class Unprocessable(AppError):
    """A value no field accepts (the same answer as a parameter failing its schema)."""

    status = 422
    code = "validation_error"


class NotFound(AppError):
    """Nothing of that id in the key's project (another project's rows are not found either)."""

    status = 404
    code = "not_found"


class Forbidden(AppError):
    """The caller is known but may not do this: a key's scope or a person's role does not allow it."""

    status = 403
    code = "forbidden"


class Conflict(AppError):
    status = 409
    code = "conflict"


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict"}


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ninja's (pydantic's) errors, reduced to what is JSON and useful: where, what, which rule."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in errors
    ]


def validation_detail(errors: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errors[:5]]
    return "invalid request: " + "; ".join(parts) if parts else "invalid request"


def install(api) -> None:
    """Register the handlers on the NinjaAPI: every client error answers ``Error``."""

    def respond(request, status: int, body: dict[str, Any]):
        return api.create_response(request, body, status=status)

    @api.exception_handler(AppError)
    def app_error(request, exc: AppError):
        return respond(request, exc.status, error_body(exc.code, exc.detail, exc.errors))

    @api.exception_handler(ValidationError)
    def invalid_input(request, exc: ValidationError):
        errors = field_errors(exc.errors)
        return respond(request, 422, error_body("validation_error", validation_detail(errors), errors))

    @api.exception_handler(DjangoValidationError)
    def invalid_model(request, exc: DjangoValidationError):
        return respond(request, 422, error_body("invalid", "; ".join(exc.messages)))

    @api.exception_handler(Http404)
    def not_found_json(request, exc: Http404):
        return respond(request, 404, error_body("not_found", str(exc) or "not found"))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if isinstance(exc.__cause__, AppError):  # raised while parsing the body (peekr_web.api.Parser)
            return app_error(request, exc.__cause__)
        code = HTTP_CODES.get(exc.status_code, "error")
        return respond(request, exc.status_code, error_body(code, str(exc)))
