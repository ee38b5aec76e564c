"""JSON API for traces: the explorer's list and detail, behind a project key."""

import base64
from operator import itemgetter
from typing import Literal

import orjson
from django.db.models import TextField, Value
from django.db.models.functions import Cast, NullIf
from django.http import HttpResponse
from ninja import Field, Path, Query, Router, Schema

from peekr_web.errors import NotFound, Unprocessable
from peekr_web.schemas import Error, SafeStr, UtcDatetime
from traces import selectors
from traces.access import Action, api_requires, trace_visible
from traces.audit import TRACE_VIEW, audit_request
from traces.models import Span, Trace
from traces.schemas import SpanOut, TraceDetailOut, TraceListOut

router = Router(tags=["traces"])


Op = Literal["eq", "contains", "prefix"]
SORT_VALUES = tuple(f"{d}{k}" for k in ("start", "duration", "cost", "tokens") for d in ("", "-"))


class TraceQuery(Schema):
    start_after: UtcDatetime | None = None
    start_before: UtcDatetime | None = None
    name: SafeStr = ""
    status: SafeStr = ""
    model: SafeStr = ""
    session_id: SafeStr = ""
    user_id: SafeStr = ""
    service: SafeStr = ""
    release: SafeStr = ""
    environment: SafeStr = ""
    tag: SafeStr = ""
    name_op: Op = Field("contains", description="How `name` matches: eq, contains (the default) or prefix")
    model_op: Op = Field("eq", description="How `model` matches: eq (the default), contains or prefix; likewise "
                         "session_id_op, user_id_op, service_op, release_op, environment_op, tag_op")  # fmt: skip
    session_id_op: Op = "eq"
    user_id_op: Op = "eq"
    service_op: Op = "eq"
    release_op: Op = "eq"
    environment_op: Op = "eq"
    tag_op: Op = "eq"
    attr_key: SafeStr = Field("", max_length=200, description="A span (or resource) attribute key, e.g. http.route")
    attr_op: Op = "eq"
    attr_value: SafeStr = Field("", max_length=500)
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    has_error: bool | None = None
    sort: Literal[SORT_VALUES] = Field(  # type: ignore[valid-type]
        "-start", description="start, duration, cost or tokens; a leading '-' for descending (default: -start)"
    )
    q: SafeStr = Field("", max_length=500, description='Search the spans\' content: words and "quoted phrases"')
    cursor: SafeStr = Field("", description="`next_cursor` of the previous page")
    limit: int = Field(50, ge=1, le=500)


def trace_out(trace: Trace) -> dict:
    return {
        **{f: getattr(trace, f) for f in TRACE_FIELDS},
        "models": trace.models_used.split() if trace.models_used else [],
        "complete": trace.completed_at is not None,
    }


TRACE_FIELDS = [
    "trace_id",
    "name",
    "start_time",
    "end_time",
    "duration_ms",
    "span_count",
    "error_count",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
    "status",
    "session_id",
    "user_id",
    "service_name",
    "release",
    "input_preview",
    "output_preview",
]


def span_out(span: Span) -> dict:
    """One span as the API gives it, from a model instance (the JSON API's trace detail reads tuples instead:
    span_rows_json; this stays for the callers that hold instances)."""
    tool = None
    if span.tool_name or span.tool_arguments or span.tool_result:
        tool = {"name": span.tool_name, "arguments": span.tool_arguments, "result": span.tool_result}
    scores = list(span.eval_scores or []) + [{**x, "source": "sdk"} for x in span.sdk_scores or []]
    attributes = dict(span.attributes or {})
    if span.eval_scores:  # written back by evaluation; kept apart so a re-sent span cannot erase it
        attributes["eval_scores"] = {x["evaluator"]: x.get("value") for x in span.eval_scores}
    return {
        **{f: getattr(span, f) for f in SPAN_FIELDS},
        "attributes": attributes,
        "scores": scores,
        "parent_span_id": span.parent_span_id or None,
        "input": span.input_text,
        "output": span.output_text,
        "tool": tool,
    }


SPAN_FIELDS = [
    "span_id",
    "name",
    "kind",
    "provider",
    "model",
    "input_messages",
    "output_messages",
    "documents",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
    "ttft_ms",
    "start_time",
    "end_time",
    "duration_ms",
    "status",
    "error",
    "session_id",
    "user_id",
    "service_name",
    "release",
    "model_version",
    "prompt_version",
    "is_internal",
    "sdk_scores",
    "attributes",
    "redactions",
]

# --- The trace detail's span list: one query of tuples, serialised by orjson without parsing the JSON columns ---

JSON_COLUMNS = {"input_messages", "output_messages", "documents", "sdk_scores", "redactions", "attributes"}
# Every span field of the answer, in SpanOut's order; `fields=` picks among them.
SPAN_OUTPUT_FIELDS = [name for name in SpanOut.model_fields if name != "events"]
EMPTY_LIST = orjson.Fragment(b"[]")
DUMPS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _as_text(field: str):
    return Cast(field, output_field=TextField())  # the column's JSON text as stored: orjson embeds it as is


class SpanColumns:
    """What to select for the asked span fields, and how a row becomes the answer's object."""

    def __init__(self, fields: list[str], *, raw: bool):
        self.fields = fields
        self.raw = raw
        columns: dict[str, object] = {"_pk": "id", "_start": "start_time"}  # the paging key
        for name in fields:
            if name == "parent_span_id":
                columns[name] = NullIf("parent_span_id", Value(""))
            elif name in ("input", "output"):
                columns[name] = f"{name}_text"
            elif name == "tool":
                columns |= {
                    "_tool_name": "tool_name",
                    "_tool_arguments": "tool_arguments",
                    "_tool_result": "tool_result",
                }
            elif name == "scores":
                columns |= {"_eval": _as_text("eval_scores"), "_sdk": _as_text("sdk_scores")}
            elif name == "attributes":
                if not raw:
                    columns |= {"attributes": _as_text("attributes"), "_eval": _as_text("eval_scores")}
            elif name == "events":
                continue  # raw=1 only: traces.lean.raw_events, from the span instance
            elif name in JSON_COLUMNS:
                columns[name] = _as_text(name)
            else:
                columns[name] = name
        self.names = list(columns)
        self.exprs = list(columns.values())
        self.json = [n for n in fields if n in JSON_COLUMNS and not (raw and n == "attributes")]


def span_rows_json(spans: list[tuple], columns: SpanColumns) -> list[dict]:
    """The span objects of the answer; Python touches a span's JSON only when evaluation scored it."""
    at = {name: i for i, name in enumerate(columns.names)}
    plain = [name for name in columns.fields if name in at]
    pick = itemgetter(*(at[name] for name in plain)) if len(plain) > 1 else lambda row: (row[at[plain[0]]],)
    out = []
    for row in spans:
        span = dict(zip(plain, pick(row), strict=True))
        for name in columns.json:
            span[name] = orjson.Fragment(span[name])
        if "tool" in columns.fields:
            name, arguments, result = row[at["_tool_name"]], row[at["_tool_arguments"]], row[at["_tool_result"]]
            span["tool"] = (
                {"name": name, "arguments": arguments, "result": result} if name or arguments or result else None
            )
        evaluated = "_eval" in at and row[at["_eval"]] != "[]"
        if "scores" in columns.fields:
            sdk = row[at["_sdk"]]
            if not evaluated and sdk == "[]":
                span["scores"] = EMPTY_LIST
            else:
                own = orjson.loads(row[at["_eval"]])
                span["scores"] = own + [{**x, "source": "sdk"} for x in orjson.loads(sdk)]
        if evaluated and "attributes" in span and not columns.raw:
            # written back by evaluation; kept apart so a re-sent span cannot erase it
            attributes = orjson.loads(row[at["attributes"]])
            attributes["eval_scores"] = {x["evaluator"]: x.get("value") for x in orjson.loads(row[at["_eval"]])}
            span["attributes"] = attributes
        out.append(span)
    return out


@router.get("", response=TraceListOut, summary="List traces")
@api_requires(Action.VIEW_TRACES)
def list_traces(request, q: Query[TraceQuery]):
    """Newest first. Filters as on the trace list; follow `next_cursor` for the next page."""
    filters = selectors.TraceFilters(
        start_after=q.start_after,
        start_before=q.start_before,
        name=q.name,
        status=q.status,
        model=q.model,
        session_id=q.session_id,
        user_id=q.user_id,
        service=q.service,
        release=q.release,
        environment=q.environment,
        tag=q.tag,
        ops={name: getattr(q, f"{name}_op") for name in selectors.TEXT_FIELDS},
        attr_key=q.attr_key,
        attr_op=q.attr_op,
        attr_value=q.attr_value,
        min_duration_ms=q.min_duration_ms,
        max_duration_ms=q.max_duration_ms,
        min_cost=q.min_cost,
        max_cost=q.max_cost,
        has_error=q.has_error,
        search=q.q,
    )
    page = selectors.trace_page(project=request.project, filters=filters, cursor=q.cursor, limit=q.limit, sort=q.sort)
    return {"items": [trace_out(t) for t in page.items], "next_cursor": page.next_cursor}


class TraceDetailQuery(Schema):
    fields: SafeStr = Field(
        "",
        description="Comma-separated span fields to return (`span_id` always comes): "
        + ", ".join(SPAN_OUTPUT_FIELDS)
        + ". Empty: all of them.",
    )
    raw: bool = Field(False, description="Attributes and events exactly as sent (after redaction)")
    limit: int | None = Field(
        None, ge=1, le=10_000, description="Spans per page; the first page also gives the `shape` of every span"
    )
    cursor: SafeStr = Field("", description="`next_cursor` of the previous page")


def _span_fields(asked: str, *, raw: bool) -> list[str]:
    if not asked.strip():
        fields = list(SPAN_OUTPUT_FIELDS)
    else:
        wanted = {f.strip() for f in asked.split(",") if f.strip()}
        unknown = sorted(wanted - set(SPAN_OUTPUT_FIELDS))
        if unknown:
            msg = f"unknown span field {unknown[0]!r}"
            raise Unprocessable(msg, errors=[{"loc": ["query", "fields"], "msg": msg, "type": "value"}])
        fields = [f for f in SPAN_OUTPUT_FIELDS if f == "span_id" or f in wanted]
    if raw and "attributes" in fields:
        fields.append("events")
    return fields


def _encode_span_cursor(start, pk: int) -> str:
    raw = orjson.dumps([start.isoformat(), pk])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_span_cursor(cursor: str):
    after = selectors.decode_cursor(cursor)
    if after is None or after[0].tzinfo is None or not 0 <= after[1] < 2**63:
        msg = "not a cursor this API gave"
        raise Unprocessable(msg, errors=[{"loc": ["query", "cursor"], "msg": msg, "type": "value"}])
    return after


SHAPE_COLUMNS = [NullIf("parent_span_id", Value("")), "start_time", "end_time", "duration_ms"]


@router.get("/{trace_id}", response={200: TraceDetailOut, 404: Error}, summary="Get a trace with its spans")
@api_requires(Action.VIEW_RAW)
def get_trace(request, trace_id: Path[SafeStr], q: Query[TraceDetailQuery]):
    """The trace's aggregates and its spans, ordered by start time. `fields=` asks for fewer span fields; `raw=1`
    gives attributes and events exactly as sent. A huge trace can come in pages: `limit=` spans a page, then
    `cursor=next_cursor`; the first page also gives `shape`, every span's id, parent and timings, to draw the tree
    at once. Another project's trace is 404 (and so is a trace outside the review queues, for a reviewer's token
    when reviewers may not browse). Audited."""
    fields = _span_fields(q.fields, raw=q.raw)
    after = _decode_span_cursor(q.cursor) if q.cursor else None
    trace = selectors.trace_get(project=request.project, trace_id=trace_id)
    if trace is None or not trace_visible(request.actor, trace):
        raise NotFound(f"trace {trace_id} not found")
    columns = SpanColumns(fields, raw=q.raw)
    limit = q.limit + 1 if q.limit else None  # one more: is there a next page?
    rows = selectors.trace_span_values(trace=trace, columns=columns.exprs, after=after, limit=limit)
    next_cursor = None
    if q.limit and len(rows) > q.limit:
        rows = rows[: q.limit]
        next_cursor = _encode_span_cursor(rows[-1][1], rows[-1][0])
    spans = span_rows_json(rows, columns)
    if q.raw and "attributes" in fields:
        from traces import lean

        stored = selectors.spans_by_pk(pks=[row[0] for row in rows])
        for row, span in zip(rows, spans, strict=True):
            span["attributes"] = lean.raw_attributes(stored[row[0]])
            span["events"] = lean.raw_events(stored[row[0]])
    shape = None
    if q.limit and after is None:
        shape = [
            {"span_id": sid, "parent_span_id": parent, "start_time": start, "end_time": end, "duration_ms": ms}
            for sid, parent, start, end, ms in selectors.trace_span_values(
                trace=trace, columns=["span_id", *SHAPE_COLUMNS]
            )
        ]
    audit_request(request, project=request.project, action=TRACE_VIEW, target=trace.trace_id)
    body = {**trace_out(trace), "spans": spans, "shape": shape, "next_cursor": next_cursor}
    # Not through ninja's response validation: a 5,000-span trace would be checked field by field for nothing
    # (the rows are built here from typed columns); TraceDetailOut documents the answer.
    return HttpResponse(orjson.dumps(body, option=DUMPS), content_type="application/json")
