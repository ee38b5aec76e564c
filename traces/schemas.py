from datetime import datetime
from typing import Any

from ninja import Field, Schema


class TraceOut(Schema):
    trace_id: str
    name: str
    start_time: datetime
    end_time: datetime | None
    duration_ms: float | None
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float
    status: str
    session_id: str
    user_id: str
    service_name: str
    release: str
    models: list[str]
    input_preview: str
    output_preview: str
    complete: bool


class TraceListOut(Schema):
    items: list[TraceOut]
    next_cursor: str | None


class SpanOut(Schema):
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    provider: str
    model: str
    input: str
    output: str
    input_messages: list[Any]
    output_messages: list[Any]
    documents: list[Any]
    tool: dict[str, Any] | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost: float | None
    ttft_ms: float | None
    start_time: datetime
    end_time: datetime | None
    duration_ms: float | None
    status: str
    error: str
    session_id: str
    user_id: str
    service_name: str
    release: str
    model_version: str
    prompt_version: str
    is_internal: bool
    sdk_scores: list[Any]
    redactions: dict[str, int] = Field(default_factory=dict, description="what ingest redacted, by kind")
    scores: list[Any]  # Peekr's scores (evaluator, value, passed, status, details, ...) then the SDK's own
    attributes: dict[str, Any]
    events: list[Any] | None = Field(None, description="only with `raw=1`: the events exactly as sent")


class SpanFieldsOut(Schema):
    """A span with only the fields asked for (`fields=`): those of SpanOut, `span_id` always."""

    model_config = {"extra": "allow", "json_schema_extra": {"additionalProperties": True}}

    span_id: str


class SpanShapeOut(Schema):
    span_id: str
    parent_span_id: str | None
    start_time: datetime
    end_time: datetime | None
    duration_ms: float | None


class TraceDetailOut(TraceOut):
    spans: list[SpanOut | SpanFieldsOut]
    shape: list[SpanShapeOut] | None = Field(
        None, description="with `limit`, on the first page: every span's id, parent and timings (the tree)"
    )
    next_cursor: str | None = Field(None, description="with `limit`: the next page's `cursor`, null on the last")
