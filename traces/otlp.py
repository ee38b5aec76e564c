"""OTLP/HTTP bodies (protobuf or JSON) to RawSpans and LogEvents, and the partial-success answer.

Protobuf is parsed with the official classes and walked by hand (``MessageToDict`` is far slower).
OTLP/JSON follows the spec: lowerCamelCase keys (the protobuf snake_case names are accepted too), trace and
span ids as hex (base64 of the right length is tolerated, as protobuf's JSON mapping would send them),
64-bit integers as decimal strings or numbers, enums as integers (their names are tolerated).

Spans are validated one by one: an invalid span is left out and reported as a SpanError, so the caller can
store the others and answer with OTLP partial success. A span without an end time (0 or absent) is an
open span (RawSpan.end_ns None). Each span is then cleaned and bounded by traces.sanitize (hostile text,
out-of-range times and numbers, attribute limits). A request as a whole over PEEKR_MAX_DECODED_MB or
PEEKR_MAX_SPANS_PER_REQUEST raises RequestTooLarge (answered 413).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from traces.normalize.types import RawSpan
from traces.sanitize import (
    DEPTH_MARKER,
    MAX_DEPTH,
    MAX_TIME_NS,
    Cleaner,
    Limits,
    RequestTooLarge,
    clean_span,
    clean_text,
    limits_from_settings,
    load_json,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
TRACE_ID_BYTES, SPAN_ID_BYTES = 16, 8
_ZERO_TRACE, _ZERO_SPAN = bytes(TRACE_ID_BYTES), bytes(SPAN_ID_BYTES)
_HEX = frozenset("0123456789abcdefABCDEF")
_SPAN_KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


class OTLPDecodeError(ValueError):
    """The body as a whole cannot be decoded: the request is answered 400 with this message."""


@dataclass
class SpanError:
    """A span left out of a request, with why. index counts spans across all resource and scope groups."""

    index: int
    trace_id: str
    span_id: str
    name: str
    reason: str


@dataclass
class LogEvent:
    """A GenAI event log record, to be merged into the span it names."""

    trace_id: str
    span_id: str
    event_name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    resource: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- protobuf


def _pb_value(value) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _pb_attrs(kvs) -> dict[str, Any]:
    out = {}
    for kv in kvs:
        value = kv.value
        # Most attributes are strings: skip the generic path for them.
        out[kv.key] = value.string_value if value.WhichOneof("value") == "string_value" else _pb_value(value)
    return out


def _pb_span_error(span) -> str | None:
    if len(span.trace_id) != TRACE_ID_BYTES or span.trace_id == _ZERO_TRACE:
        return "invalid trace id: it must be 16 bytes, not all zero"
    if len(span.span_id) != SPAN_ID_BYTES or span.span_id == _ZERO_SPAN:
        return "invalid span id: it must be 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != SPAN_ID_BYTES:
        return "invalid parent span id: it must be 8 bytes or empty"
    if not span.name:
        return "the span has no name"
    if not span.start_time_unix_nano:
        return "the span has no start time"
    if span.end_time_unix_nano and span.end_time_unix_nano < span.start_time_unix_nano:
        return "the span ends before it starts"
    return None


def _decode_traces_pb(body: bytes, limits: Limits) -> tuple[list[RawSpan], list[SpanError]]:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise OTLPDecodeError(f"invalid protobuf ExportTraceServiceRequest: {exc}") from None
    _check_span_count(
        sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans), limits.max_spans_per_request
    )
    resources: dict[int, tuple] = {}
    spans: list[RawSpan] = []
    errors: list[SpanError] = []
    index = -1
    for resource_spans in request.resource_spans:
        resource = _pb_attrs(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name, scope_version = scope_spans.scope.name, scope_spans.scope.version
            for span in scope_spans.spans:
                index += 1
                reason = _pb_span_error(span)
                if reason:
                    errors.append(SpanError(index, span.trace_id.hex(), span.span_id.hex(), span.name, reason))
                    continue
                parent = span.parent_span_id
                raw = clean_span(
                    RawSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano or None,
                        parent_span_id=parent.hex() if parent and parent != _ZERO_SPAN else None,
                        kind=span.kind,
                        attributes=_pb_attrs(span.attributes),
                        events=[
                            {"name": e.name, "time_ns": e.time_unix_nano, "attributes": _pb_attrs(e.attributes)}
                            for e in span.events
                        ],
                        status_code=span.status.code,
                        status_message=span.status.message,
                        resource=resource,
                        scope_name=scope_name,
                        scope_version=scope_version,
                    ),
                    limits,
                    resources,
                )
                if isinstance(raw, str):
                    errors.append(SpanError(index, span.trace_id.hex(), span.span_id.hex(), span.name, raw))
                else:
                    spans.append(raw)
    return spans, errors


def _check_span_count(count: int, limit: int) -> None:
    if count > limit:
        raise RequestTooLarge(
            f"the request holds {count} spans, over the limit of {limit} (PEEKR_MAX_SPANS_PER_REQUEST): "
            "send smaller batches"
        )


# -------------------------------------------------------------------------------------------------- JSON


def _get(data: dict, camel: str, snake: str, default: Any = None) -> Any:
    value = data.get(camel)
    if value is None:
        value = data.get(snake, default)
    return default if value is None else value


def _json_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        return int(value)
    if isinstance(value, str):
        return int(value.strip() or 0)
    if value is None:
        return 0
    raise ValueError(f"expected an integer, got {type(value).__name__}")


def _json_enum(value: Any, names: dict[str, int]) -> int:
    if isinstance(value, str) and value in names:
        return names[value]
    return _json_int(value)


def _json_id(value: Any, size: int) -> bytes | None:
    """The id's bytes from hex (or base64 of the right length); None when it is neither."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) == size * 2 and _HEX.issuperset(value):
        return bytes.fromhex(value)
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        try:
            decoded = base64.urlsafe_b64decode(value)
        except (binascii.Error, ValueError):
            return None
    return decoded if len(decoded) == size else None


def _json_value(value: Any, depth: int = 0) -> Any:
    if not isinstance(value, dict):
        return value  # tolerate a bare scalar where an AnyValue belongs
    if depth > MAX_DEPTH:  # traces.sanitize would cut it anyway: stop before the recursion limit does
        return DEPTH_MARKER
    for key, inner in value.items():
        if key in ("stringValue", "string_value"):
            return inner
        if key in ("intValue", "int_value"):
            return _json_int(inner)
        if key in ("doubleValue", "double_value"):
            return float(inner)
        if key in ("boolValue", "bool_value"):
            return inner if isinstance(inner, bool) else str(inner).lower() == "true"
        if key in ("arrayValue", "array_value"):
            return [_json_value(v, depth + 1) for v in (inner or {}).get("values") or ()]
        if key in ("kvlistValue", "kvlist_value"):
            return _json_attrs((inner or {}).get("values"), depth + 1)
        if key in ("bytesValue", "bytes_value"):
            try:
                return base64.b64decode(inner)
            except (binascii.Error, ValueError, TypeError):
                return inner
    return None


def _json_attrs(items: Any, depth: int = 0) -> dict[str, Any]:
    if not items:
        return {}
    if not isinstance(items, list):
        raise ValueError("attributes must be a list of {key, value}")
    return {kv["key"]: _json_value(kv.get("value"), depth) for kv in items if isinstance(kv, dict) and "key" in kv}


def _json_list(data: dict, camel: str, snake: str) -> list:
    items = _get(data, camel, snake, [])
    if not isinstance(items, list):
        raise OTLPDecodeError(f"{camel} must be a list")
    return items


def _shown_id(value: Any, decoded: bytes | None) -> str:
    if decoded is not None:
        return decoded.hex()
    return value[:64] if isinstance(value, str) else ""


def _json_span(span: dict, resource: dict, scope_name: str, scope_version: str) -> RawSpan | str:
    """A RawSpan, or the reason the span is invalid."""
    trace_raw, span_raw = _get(span, "traceId", "trace_id"), _get(span, "spanId", "span_id")
    trace_id, span_id = _json_id(trace_raw, TRACE_ID_BYTES), _json_id(span_raw, SPAN_ID_BYTES)
    if trace_id is None or trace_id == _ZERO_TRACE:
        return "invalid trace id: it must be 16 bytes (32 hex characters), not all zero"
    if span_id is None or span_id == _ZERO_SPAN:
        return "invalid span id: it must be 8 bytes (16 hex characters), not all zero"
    parent_raw = _get(span, "parentSpanId", "parent_span_id", "")
    parent = _json_id(parent_raw, SPAN_ID_BYTES) if parent_raw else b""
    if parent is None:
        return "invalid parent span id: it must be 8 bytes (16 hex characters) or empty"
    name = span.get("name")
    if not isinstance(name, str) or not name:
        return "the span has no name"
    start = _json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano", 0))
    end = _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano", 0))
    if not start:
        return "the span has no start time"
    if end and end < start:
        return "the span ends before it starts"
    status = _get(span, "status", "status", {})
    if not isinstance(status, dict):
        return "status must be an object"
    events = []
    for event in _get(span, "events", "events", []):
        events.append(
            {
                "name": event.get("name") or "",
                "time_ns": _json_int(_get(event, "timeUnixNano", "time_unix_nano", 0)),
                "attributes": _json_attrs(event.get("attributes")),
            }
        )
    return RawSpan(
        trace_id=trace_id.hex(),
        span_id=span_id.hex(),
        name=name,
        start_ns=start,
        end_ns=end or None,
        parent_span_id=parent.hex() if parent and parent != _ZERO_SPAN else None,
        kind=_json_enum(span.get("kind", 0), _SPAN_KIND_NAMES),
        attributes=_json_attrs(span.get("attributes")),
        events=events,
        status_code=_json_enum(status.get("code", 0), _STATUS_NAMES),
        status_message=str(status.get("message") or ""),
        resource=resource,
        scope_name=scope_name,
        scope_version=scope_version,
    )


def _load_json(body: bytes, top_key: str, snake: str) -> list:
    try:
        data = load_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OTLPDecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OTLPDecodeError(f"the body must be a JSON object with {top_key!r}")
    return _json_list(data, top_key, snake)


def _json_resource(group: dict) -> dict[str, Any]:
    resource = group.get("resource") or {}
    if not isinstance(resource, dict):
        raise OTLPDecodeError("resource must be an object")
    try:
        return _json_attrs(resource.get("attributes"))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise OTLPDecodeError(f"invalid resource attributes: {exc}") from None


def _json_scope(group: dict) -> tuple[str, str]:
    scope = group.get("scope") or {}
    if not isinstance(scope, dict):
        raise OTLPDecodeError("scope must be an object")
    return str(scope.get("name") or ""), str(scope.get("version") or "")


def _decode_traces_json(body: bytes, limits: Limits) -> tuple[list[RawSpan], list[SpanError]]:
    spans: list[RawSpan] = []
    errors: list[SpanError] = []
    index = -1
    groups = _load_json(body, "resourceSpans", "resource_spans")
    _check_span_count(_json_span_count(groups), limits.max_spans_per_request)
    resources: dict[int, tuple] = {}
    for group in groups:
        if not isinstance(group, dict):
            raise OTLPDecodeError("each resourceSpans item must be an object")
        resource = _json_resource(group)
        for scope_group in _json_list(group, "scopeSpans", "scope_spans"):
            if not isinstance(scope_group, dict):
                raise OTLPDecodeError("each scopeSpans item must be an object")
            scope_name, scope_version = _json_scope(scope_group)
            for span in _json_list(scope_group, "spans", "spans"):
                index += 1
                if not isinstance(span, dict):
                    errors.append(SpanError(index, "", "", "", "a span must be a JSON object"))
                    continue
                try:
                    result = _json_span(span, resource, scope_name, scope_version)
                except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
                    result = f"malformed span: {exc}"
                if isinstance(result, RawSpan):
                    result = clean_span(result, limits, resources)
                if isinstance(result, RawSpan):
                    spans.append(result)
                    continue
                trace_raw, span_raw = _get(span, "traceId", "trace_id"), _get(span, "spanId", "span_id")
                errors.append(
                    SpanError(
                        index,
                        _shown_id(trace_raw, _json_id(trace_raw, TRACE_ID_BYTES)),
                        _shown_id(span_raw, _json_id(span_raw, SPAN_ID_BYTES)),
                        clean_text(span["name"][:200]) if isinstance(span.get("name"), str) else "",
                        clean_text(result),
                    )
                )
    return spans, errors


def _json_span_count(groups: list) -> int:
    """How many spans the request holds; malformed parts count nothing here (the decoder reports them)."""
    count = 0
    for group in groups:
        scope_groups = _get(group, "scopeSpans", "scope_spans") if isinstance(group, dict) else None
        for scope_group in scope_groups if isinstance(scope_groups, list) else ():
            spans = scope_group.get("spans") if isinstance(scope_group, dict) else None
            count += len(spans) if isinstance(spans, list) else 0
    return count


# --------------------------------------------------------------------------------------------- entry points


def check_decoded_size(body: bytes, limit: int) -> None:
    """RequestTooLarge when the decoded (decompressed) body is over the limit: parsing costs ~15 times its size."""
    if len(body) > limit:
        raise RequestTooLarge(
            f"the decompressed body of {len(body)} bytes is over the {limit}-byte limit (PEEKR_MAX_DECODED_MB): "
            "send smaller batches"
        )


def decode_traces_request(
    body: bytes, content_type: str, limits: Limits | None = None
) -> tuple[list[RawSpan], list[SpanError]]:
    """The valid spans of an ExportTraceServiceRequest, cleaned and bounded, and why the others were left out.

    Raises OTLPDecodeError when the body cannot be decoded at all, RequestTooLarge when it is over a limit.
    """
    limits = limits or limits_from_settings()
    check_decoded_size(body, limits.max_decoded_bytes)
    if content_type == PROTOBUF:
        return _decode_traces_pb(body, limits)
    if content_type == JSON:
        return _decode_traces_json(body, limits)
    raise OTLPDecodeError(f"unsupported content type {content_type!r}")


def _event_name(record_name: str, attributes: dict[str, Any]) -> str:
    if record_name:
        return record_name
    name = attributes.get("event.name")
    return name if isinstance(name, str) else ""


def decode_logs_request(body: bytes, content_type: str, limits: Limits | None = None) -> list[LogEvent]:
    """The GenAI event records (event name ``gen_ai.*``) of an ExportLogsServiceRequest that name a span.

    Other records (application logs, records without a valid span id) are left out: they have nothing to
    attach to. The event name is the record's ``event_name`` or its ``event.name`` attribute; the time is
    ``time_unix_nano``, else ``observed_time_unix_nano`` (GenAI instrumentations often set only the latter).
    Records are cleaned as spans are (traces.sanitize); a time out of range becomes 0.
    """
    limits = limits or limits_from_settings()
    check_decoded_size(body, limits.max_decoded_bytes)
    if content_type == PROTOBUF:
        events = _decode_logs_pb(body)
    elif content_type == JSON:
        events = _decode_logs_json(body)
    else:
        raise OTLPDecodeError(f"unsupported content type {content_type!r}")
    return [_clean_log_event(e, limits) for e in events]


def _clean_log_event(event: LogEvent, limits: Limits) -> LogEvent:
    cleaner = Cleaner(limits)
    return LogEvent(
        trace_id=event.trace_id,
        span_id=event.span_id,
        event_name=cleaner.text(event.event_name),
        time_ns=event.time_ns if 0 <= event.time_ns <= MAX_TIME_NS else 0,
        attributes=cleaner.mapping(event.attributes),
        body=cleaner.value(event.body),
        resource=cleaner.mapping(event.resource),
    )


def _decode_logs_pb(body: bytes) -> list[LogEvent]:
    try:
        request = ExportLogsServiceRequest.FromString(body)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise OTLPDecodeError(f"invalid protobuf ExportLogsServiceRequest: {exc}") from None
    events = []
    for resource_logs in request.resource_logs:
        resource = _pb_attrs(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                if len(record.span_id) != SPAN_ID_BYTES or record.span_id == _ZERO_SPAN:
                    continue
                attributes = _pb_attrs(record.attributes)
                name = _event_name(record.event_name, attributes)
                if not name.startswith("gen_ai."):
                    continue
                trace_id = record.trace_id.hex() if len(record.trace_id) == TRACE_ID_BYTES else ""
                events.append(
                    LogEvent(
                        trace_id=trace_id,
                        span_id=record.span_id.hex(),
                        event_name=name,
                        time_ns=record.time_unix_nano or record.observed_time_unix_nano,
                        attributes=attributes,
                        body=_pb_value(record.body) if record.HasField("body") else None,
                        resource=resource,
                    )
                )
    return events


def _decode_logs_json(body: bytes) -> list[LogEvent]:
    events = []
    for group in _load_json(body, "resourceLogs", "resource_logs"):
        if not isinstance(group, dict):
            raise OTLPDecodeError("each resourceLogs item must be an object")
        resource = _json_resource(group)
        for scope_group in _json_list(group, "scopeLogs", "scope_logs"):
            if not isinstance(scope_group, dict):
                raise OTLPDecodeError("each scopeLogs item must be an object")
            for record in _json_list(scope_group, "logRecords", "log_records"):
                if not isinstance(record, dict):
                    continue
                try:
                    span_id = _json_id(_get(record, "spanId", "span_id"), SPAN_ID_BYTES)
                    if span_id is None or span_id == _ZERO_SPAN:
                        continue
                    attributes = _json_attrs(record.get("attributes"))
                    name = _event_name(str(_get(record, "eventName", "event_name", "")), attributes)
                    if not name.startswith("gen_ai."):
                        continue
                    trace_id = _json_id(_get(record, "traceId", "trace_id"), TRACE_ID_BYTES)
                    time_ns = _json_int(_get(record, "timeUnixNano", "time_unix_nano", 0)) or _json_int(
                        _get(record, "observedTimeUnixNano", "observed_time_unix_nano", 0)
                    )
                    body_value = _json_value(record["body"]) if record.get("body") is not None else None
                except (ValueError, TypeError, AttributeError, KeyError):
                    continue  # one malformed record does not cost the others
                events.append(
                    LogEvent(
                        trace_id=trace_id.hex() if trace_id else "",
                        span_id=span_id.hex(),
                        event_name=name,
                        time_ns=time_ns,
                        attributes=attributes,
                        body=body_value,
                        resource=resource,
                    )
                )
    return events


def encode_partial_success(rejected: int, message: str, content_type: str) -> bytes:
    """An ExportTraceServiceResponse: empty when all was accepted, else partial_success with the count."""
    if content_type == PROTOBUF:
        if not rejected and not message:
            return ExportTraceServiceResponse().SerializeToString()
        partial = ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
        return ExportTraceServiceResponse(partial_success=partial).SerializeToString()
    if not rejected and not message:
        return b"{}"
    partial_json: dict[str, Any] = {"rejectedSpans": str(rejected)}
    if message:
        partial_json["errorMessage"] = message
    return json.dumps({"partialSuccess": partial_json}).encode()
