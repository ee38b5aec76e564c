"""OTLP metrics (ExportMetricsServiceRequest, protobuf or JSON) to plain metric points: pure, no database.

Peekr keeps the GenAI metrics (``gen_ai.*`` of the semantic conventions: token usage, operation duration, time
to first token...; and ``llm.*``, which Traceloop's instrumentations emit beside them) as time series by model
and service. Any other metric (http.server.duration, process.cpu...) is accepted and dropped: a shared
MeterProvider exports everything, and refusing it would make the SDK log an error on every batch. The drop is
counted by name, never an error.

OTLP/JSON is read with protobuf's own JSON mapping (``json_format``), which takes lowerCamelCase and snake_case
names, 64-bit integers as strings and enums as integers or names; exemplars are left out first (their ids are
hex in OTLP/JSON, base64 in protobuf's mapping, and Peekr does not keep them).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from traces.otlp import JSON, PROTOBUF, OTLPDecodeError, check_decoded_size
from traces.sanitize import Cleaner, Limits, RequestTooLarge, limits_from_settings, load_json, time_problem

KEPT_PREFIXES = ("gen_ai.", "llm.")
CUMULATIVE = 2  # AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model", "llm.response.model", "llm.request.model")
_TOKEN_TYPE_KEYS = ("gen_ai.token.type", "llm.usage.token_type")


@dataclass
class MetricPoint:
    name: str
    kind: str  # gauge, sum, histogram, exponential_histogram, summary
    time_ns: int
    start_ns: int = 0
    unit: str = ""
    cumulative: bool = False
    model: str = ""
    service_name: str = ""
    token_type: str = ""  # input / output, for token usage
    attributes: dict[str, Any] = field(default_factory=dict)
    value: float | None = None  # gauge and sum
    count: int | None = None  # histograms and summaries
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    bucket_counts: list[int] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)
    series_key: str = ""  # one time series: name, attributes and the resource's service/instance


@dataclass
class MetricsBatch:
    points: list[MetricPoint] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)  # points of metrics Peekr does not keep, by name
    rejected: list[str] = field(default_factory=list)  # why points were refused (bad times)

    @property
    def dropped_count(self) -> int:
        return sum(self.dropped.values())


def is_kept(name: str) -> bool:
    return name.startswith(KEPT_PREFIXES)


def _any_value(value) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _attrs(kvs) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in kvs}


def _first_text(attrs: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value[:200]
    return ""


def _series_key(name: str, attrs: dict[str, Any], resource: dict[str, Any]) -> str:
    identity = [name, attrs, resource.get("service.name"), resource.get("service.instance.id")]
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _points_of(metric) -> tuple[str, Any, bool]:
    which = metric.WhichOneof("data")
    if which is None:
        return "", (), False
    data = getattr(metric, which)
    cumulative = getattr(data, "aggregation_temporality", 0) == CUMULATIVE
    return which, data.data_points, cumulative


def _count_points(request: ExportMetricsServiceRequest) -> int:
    return sum(len(_points_of(m)[1]) for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)


def _fill(point: MetricPoint, kind: str, dp) -> None:
    if kind in ("gauge", "sum"):
        point.value = dp.as_double if dp.WhichOneof("value") == "as_double" else float(dp.as_int)
    elif kind == "summary":
        point.count, point.sum = dp.count, dp.sum
    else:
        point.count, point.sum = dp.count, dp.sum if dp.HasField("sum") else None
        point.min = dp.min if dp.HasField("min") else None
        point.max = dp.max if dp.HasField("max") else None
        if kind == "histogram":
            point.bucket_counts, point.bounds = list(dp.bucket_counts), list(dp.explicit_bounds)


def _walk(request: ExportMetricsServiceRequest, limits: Limits) -> MetricsBatch:
    count = _count_points(request)
    if count > limits.max_spans_per_request:
        raise RequestTooLarge(
            f"the request holds {count} data points, over the limit of {limits.max_spans_per_request} "
            "(PEEKR_MAX_SPANS_PER_REQUEST): send smaller batches"
        )
    batch = MetricsBatch()
    cleaner = Cleaner(limits)
    for rm in request.resource_metrics:
        resource: dict[str, Any] | None = None
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind, points, cumulative = _points_of(metric)
                if not is_kept(metric.name):
                    batch.dropped[metric.name[:200] or "(unnamed)"] += len(points)
                    continue
                if resource is None:
                    resource = cleaner.mapping(_attrs(rm.resource.attributes))
                service = resource.get("service.name")
                for dp in points:
                    problem = time_problem(dp.time_unix_nano, "time")
                    if problem:
                        batch.rejected.append(f"{metric.name}: {problem}")
                        continue
                    attrs = cleaner.mapping(_attrs(dp.attributes))
                    point = MetricPoint(
                        name=cleaner.text(metric.name)[:200],
                        kind=kind,
                        unit=cleaner.text(metric.unit)[:32],
                        time_ns=dp.time_unix_nano,
                        start_ns=dp.start_time_unix_nano if time_problem(dp.start_time_unix_nano, "") is None else 0,
                        cumulative=cumulative,
                        model=_first_text(attrs, _MODEL_KEYS),
                        service_name=service[:200] if isinstance(service, str) else "",
                        token_type=_first_text(attrs, _TOKEN_TYPE_KEYS)[:16],
                        attributes=attrs,
                        series_key=_series_key(metric.name, attrs, resource),
                    )
                    _fill(point, kind, dp)
                    batch.points.append(point)
    return batch


def _strip_exemplars(value: Any) -> None:
    if isinstance(value, dict):
        value.pop("exemplars", None)
        for child in value.values():
            _strip_exemplars(child)
    elif isinstance(value, list):
        for child in value:
            _strip_exemplars(child)


def decode_metrics_request(body: bytes, content_type: str, limits: Limits | None = None) -> MetricsBatch:
    """The kept points of an ExportMetricsServiceRequest, the dropped ones counted by name, the refused ones.

    Raises OTLPDecodeError when the body cannot be decoded at all, RequestTooLarge when it is over a limit.
    """
    limits = limits or limits_from_settings()
    check_decoded_size(body, limits.max_decoded_bytes)
    request = ExportMetricsServiceRequest()
    if content_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise OTLPDecodeError(f"invalid protobuf ExportMetricsServiceRequest: {exc}") from None
    elif content_type == JSON:
        try:
            data = load_json(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise OTLPDecodeError(f"invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise OTLPDecodeError("the body must be a JSON object with 'resourceMetrics'")
        _strip_exemplars(data)
        try:
            json_format.ParseDict(data, request, ignore_unknown_fields=True, max_recursion_depth=64)
        except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
            raise OTLPDecodeError(f"invalid OTLP/JSON metrics: {exc}") from None
    else:
        raise OTLPDecodeError(f"unsupported content type {content_type!r}")
    return _walk(request, limits)


def decode_metrics_message(request: ExportMetricsServiceRequest, limits: Limits | None = None) -> MetricsBatch:
    """The same from a request already parsed (the gRPC receiver's)."""
    return _walk(request, limits or limits_from_settings())


def encode_metrics_response(batch: MetricsBatch, content_type: str) -> bytes:
    """An ExportMetricsServiceResponse: partial success only for refused points (a drop is not a refusal)."""
    rejected = len(batch.rejected)
    message = ""
    if rejected:
        shown = "; ".join(batch.rejected[:20])
        message = f"{rejected} data point(s) rejected: {shown}" + (" ..." if rejected > 20 else "")
    if content_type == PROTOBUF:
        if not rejected:
            return ExportMetricsServiceResponse().SerializeToString()
        partial = ExportMetricsPartialSuccess(rejected_data_points=rejected, error_message=message)
        return ExportMetricsServiceResponse(partial_success=partial).SerializeToString()
    if not rejected:
        return b"{}"
    return json.dumps({"partialSuccess": {"rejectedDataPoints": str(rejected), "errorMessage": message}}).encode()
