"""Plain data passed between the OTLP decoder, the normalisers and storage.

No Django here: these are built and tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# OTel SpanKind enum values (proto): 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
SPAN_KINDS = (
    "llm",
    "chain",
    "tool",
    "retriever",
    "embedding",
    "agent",
    "reranker",
    "guardrail",
    "evaluator",
    "span",
)
STATUSES = ("unset", "ok", "error")


@dataclass
class RawSpan:
    """One span as it arrived, whatever the wire format (OTLP protobuf, OTLP JSON, Peekr JSON)."""

    trace_id: str  # 32 lowercase hex chars
    span_id: str  # 16 lowercase hex chars (OTLP) or 32 (Peekr SDK uuids)
    name: str
    start_ns: int
    end_ns: int | None = None  # None while the span is still open
    parent_span_id: str | None = None
    kind: int = 0  # OTel SpanKind enum value
    attributes: dict[str, Any] = field(default_factory=dict)  # values: str/int/float/bool/list/dict/bytes
    events: list[dict[str, Any]] = field(default_factory=list)  # {"name", "time_ns", "attributes"}
    status_code: int = 0  # 0 unset, 1 ok, 2 error
    status_message: str = ""
    resource: dict[str, Any] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    source: str = "otlp"  # "otlp" or "peekr"


@dataclass
class NormalizedSpan:
    """First-class fields read from a RawSpan by the convention modules; names match traces.models.Span."""

    kind: str = "span"
    provider: str = ""
    model: str = ""
    input_text: str = ""
    output_text: str = ""
    input_messages: list[dict[str, Any]] = field(
        default_factory=list
    )  # {"role", "content", "tool_calls"?, "tool_call_id"?}
    output_messages: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)  # {"id", "content", "score", "metadata"}
    tool_name: str = ""
    tool_arguments: str = ""
    tool_result: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None  # USD
    ttft_ms: float | None = None
    status: str = "unset"
    error: str = ""
    session_id: str = ""
    user_id: str = ""
    service_name: str = ""
    release: str = ""
    model_version: str = ""
    prompt_version: str = ""
    is_internal: bool = False  # Peekr's own judge calls: never evaluated, never counted as app traffic
    traffic: str = ""  # "shadow" for a candidate's answer to a copied request (peekr.traffic); else ""
    request_key: str = ""  # peekr.request_key: pairs a shadow answer with its production twin
    conventions: list[str] = field(default_factory=list)  # which convention modules contributed
    sdk_scores: list[dict[str, Any]] = field(default_factory=list)  # scores computed in-process by the Peekr SDK
