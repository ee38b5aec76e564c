"""Build OTLP/HTTP request bodies for tests, with the official protobuf classes, and load the shared fixtures."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status


def fixtures_dir() -> Path:
    """The captured OTLP payloads: a copy of the workspace's shared/fixtures/otlp kept in the repository (its
    README says how they were captured), so a clone anywhere runs the suite; PEEKR_FIXTURES_DIR points elsewhere."""
    override = os.environ.get("PEEKR_FIXTURES_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "fixtures" / "otlp"


def fixture_bytes(name: str) -> bytes:
    return (fixtures_dir() / name).read_bytes()


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (dict, list)):
        return AnyValue(string_value=json.dumps(value))
    return AnyValue(string_value=str(value))


def pb_span(
    *,
    trace_id: str,
    span_id: str | None = None,
    parent_span_id: str = "",
    name: str = "span",
    start: float | None = None,
    duration: float = 0.5,
    attributes: dict | None = None,
    error: str = "",
    kind: int = 1,
) -> Span:
    start_ns = int((time.time() - 30 if start is None else start) * 1e9)
    return Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id or secrets.token_hex(8)),
        parent_span_id=bytes.fromhex(parent_span_id) if parent_span_id else b"",
        name=name,
        kind=kind,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + int(duration * 1e9),
        attributes=[KeyValue(key=k, value=any_value(v)) for k, v in (attributes or {}).items()],
        status=Status(code=2, message=error) if error else Status(),
    )


def pb_request(spans: list[Span], service: str = "test-service") -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )


def json_span(*, trace_id: str, span_id: str, name: str = "span", start_ns: int | None = None, **extra) -> dict:
    """A span in OTLP/JSON as JavaScript exporters send it: hex ids, int64 as strings, integer enums."""
    start_ns = start_ns or time.time_ns() - 30_000_000_000
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 250_000_000),
        "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}}],
        "status": {},
        **extra,
    }


def json_request(spans: list[dict], service: str = "web-frontend") -> bytes:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }
    return json.dumps(body).encode()
