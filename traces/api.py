"""JSON API for traces: the explorer's list and detail, behind a project key."""

from ninja import Field, Path, Query, Router, Schema

from peekr_web.errors import NotFound
from peekr_web.schemas import Error, SafeStr, UtcDatetime
from traces import selectors
from traces.access import Action, api_requires, trace_visible
from traces.audit import TRACE_VIEW, audit_request
from traces.models import Span, Trace
from traces.schemas import TraceDetailOut, TraceListOut

router = Router(tags=["traces"])


class TraceQuery(Schema):
    start_after: UtcDatetime | None = None
    start_before: UtcDatetime | None = None
    name: SafeStr = ""
    status: SafeStr = ""
    model: SafeStr = ""
    session_id: SafeStr = ""
    user_id: SafeStr = ""
    service: SafeStr = ""
    min_duration_ms: float | None = None
    has_error: bool | None = None
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
        min_duration_ms=q.min_duration_ms,
        has_error=q.has_error,
    )
    page = selectors.trace_page(project=request.project, filters=filters, cursor=q.cursor, limit=q.limit)
    return {"items": [trace_out(t) for t in page.items], "next_cursor": page.next_cursor}


@router.get("/{trace_id}", response={200: TraceDetailOut, 404: Error}, summary="Get a trace with its spans")
@api_requires(Action.VIEW_RAW)
def get_trace(request, trace_id: Path[SafeStr]):
    """The trace's aggregates and every span, ordered by start time. Another project's trace is 404 (and so is a
    trace outside the review queues, for a reviewer's token when reviewers may not browse). Audited."""
    trace = selectors.trace_get(project=request.project, trace_id=trace_id)
    if trace is None or not trace_visible(request.actor, trace):
        raise NotFound(f"trace {trace_id} not found")
    spans = selectors.trace_spans(trace=trace)
    audit_request(request, project=request.project, action=TRACE_VIEW, target=trace.trace_id)
    return {**trace_out(trace), "spans": [span_out(s) for s in spans]}
