"""The one NinjaAPI: the JSON API under /api/, with its OpenAPI docs served offline at /api/docs.

Client errors are handled in one place (peekr_web.errors.install) and answer one body (peekr_web.schemas.Error);
the OpenAPI schema documents them on every operation (401 always, 422 where it takes input, 400 where it takes a
body), besides the 404s, 409s and refusals each operation declares itself.
"""

import json
from http import HTTPStatus
from typing import Any

import orjson
from ninja import NinjaAPI
from ninja.parser import Parser
from ninja.renderers import BaseRenderer
from ninja.responses import NinjaJSONEncoder
from ninja.security import HttpBearer

from peekr_web import errors
from peekr_web.schemas import Error
from traces import access


class ProjectKey(HttpBearer):
    """`Authorization: Bearer <project key or personal token>`: the request's project is the key's, or the one
    the token's user names in `X-Peekr-Project`; `request.actor` says who calls (traces.access), and each
    operation's ``@api_requires`` what it needs."""

    def authenticate(self, request, token):
        try:
            actor = access.actor_for(request, token)
        except access.ProjectRequired as exc:
            raise errors.AppError(str(exc)) from exc
        if actor is None:
            return None
        why = access.refusal(actor, getattr(request, "access_action", None))
        if why is not None:
            raise errors.Forbidden(why)
        request.project = actor.project
        request.actor = actor
        return actor


def unstorable_text(value: Any, loc: tuple = ()) -> tuple | None:
    """Where, in a JSON value, the first text is that no database can store: a NUL character or a lone
    surrogate (in a key or a value); None when there is none."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return loc
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        items = [(k, k, (*loc, k)) for k in value] + [(k, v, (*loc, k)) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(i, v, (*loc, i)) for i, v in enumerate(value)]
    else:
        return None
    return next((bad for _, v, at in items if (bad := unstorable_text(v, at)) is not None), None)


class TextParser(Parser):
    """JSON bodies (objects only) and query strings, refusing text with NUL characters or lone surrogates (422),
    free-form fields (filters, configs) included: PostgreSQL refuses them and the request would otherwise answer 500.
    A single-valued query parameter given twice is refused too, rather than one of its values picked silently."""

    def parse_body(self, request):
        data = json.loads(request.body)
        if not isinstance(data, dict):
            # Every body of this API is an object: ninja would read a list or a number as "no fields given",
            # and a PATCH or PUT whose fields are all optional would answer 200 having changed nothing.
            msg = f"the body must be a JSON object, got {type(data).__name__}"
            raise errors.Unprocessable(msg, errors=[{"loc": ["body"], "msg": msg, "type": "type"}])
        return self._checked(data, "body")

    def parse_querydict(self, data, list_fields, request):
        repeated = [key for key in data if key not in list_fields and len(data.getlist(key)) > 1]
        if repeated:
            raise errors.Unprocessable(f"query parameter {repeated[0]!r} given more than once")
        return self._checked(super().parse_querydict(data, list_fields, request), "query")

    def _checked(self, data, where: str):
        loc = unstorable_text(data, (where,))
        if loc is not None:
            msg = "text may not contain NUL characters or lone surrogates"
            at = ".".join(str(x) for x in loc)
            raise errors.Unprocessable(f"{at}: {msg}", errors=[{"loc": list(loc), "msg": msg, "type": "text"}])
        return data


class OrjsonRenderer(BaseRenderer):
    """JSON through orjson (bytes, no intermediate str). Datetimes, decimals, lazy strings... are given to ninja's
    encoder as before, so every answer reads as it did with the json module; NaN becomes null (valid JSON)."""

    media_type = "application/json"
    options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
    fallback = NinjaJSONEncoder().default

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, default=self.fallback, option=self.options)


class PeekrAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs):
        schema = super().get_openapi_schema(**kwargs)
        document_client_errors(schema)
        return schema


def document_client_errors(schema: dict) -> None:
    """Add the errors every operation can answer to its documented responses."""
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components.setdefault("Error", error_schema)
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            codes = [401, 403]  # 403: the key's scope or the person's role does not allow the operation
            if operation.get("parameters") or operation.get("requestBody"):
                codes.append(422)
            if operation.get("requestBody"):
                codes.append(400)
            for code in codes:
                responses.setdefault(code, {"description": HTTPStatus(code).phrase, "content": content})


api = PeekrAPI(
    title="Peekr API",
    version="1.0.0",
    description="Traces, spans and their scores. Authenticate with a project key (`Authorization: Bearer pk_...`; its "
    "scope, ingest, read or admin, says what it may do) or a personal API token (`Bearer pt_...`, acting as you, "
    "with `X-Peekr-Project: <id>` when you are in several projects). "
    'Every error answers `{"code": ..., "detail": ..., "errors": [...]}`. Unknown query parameters are ignored.',
    auth=ProjectKey(),
    urls_namespace="api",
    parser=TextParser(),
    renderer=OrjsonRenderer(),
)
errors.install(api)

api.add_router("/v1/traces", "traces.api.router")
api.add_router("/v1", "traces.audit_api.router")
api.add_router("/v1", "traces.privacy_api.router")
api.add_router("/v1", "traces.retention_api.router")
api.add_router("/v1", "evals.api.router")
api.add_router("/v1", "insights.api.router")
api.add_router("/v1", "annotations.api.router")
api.add_router("/v1", "signals.api.router")
api.add_router("/v1", "metrics.api.router")
api.add_router("/v1", "alerts.api.router")
api.add_router("/v1", "releases.api.router")
api.add_router("/v1", "regressions.api.router")
