"""OTLP metric requests as the SDKs build them: a cumulative token-usage histogram by model and token type, an
operation-duration histogram, and a metric Peekr does not keep (http.server.duration)."""

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

START_NS = 1_795_315_283_000_000_000


def kv(key, value):
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def histogram(name, unit, points, cumulative=True):
    temporality = (
        metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE if cumulative else metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    )
    data = metrics_pb2.Histogram(aggregation_temporality=temporality)
    for attrs, time_ns, count, total in points:
        data.data_points.append(
            metrics_pb2.HistogramDataPoint(
                attributes=[kv(k, v) for k, v in attrs.items()],
                start_time_unix_nano=START_NS,
                time_unix_nano=time_ns,
                count=count,
                sum=total,
                min=0.0,
                max=total,
                bucket_counts=[0, count],
                explicit_bounds=[1.0],
            )
        )
    return metrics_pb2.Metric(name=name, unit=unit, histogram=data)


def metrics_request(*, at_ns: int = START_NS + 60_000_000_000, service: str = "rag-app", scale: int = 1):
    model = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini", "gen_ai.system": "openai"}
    metrics = [
        histogram(
            "gen_ai.client.token.usage",
            "{token}",
            [
                ({**model, "gen_ai.token.type": "input"}, at_ns, scale, 42.0 * scale),
                ({**model, "gen_ai.token.type": "output"}, at_ns, scale, 17.0 * scale),
            ],
        ),
        histogram("gen_ai.client.operation.duration", "s", [(model, at_ns, scale, 0.5 * scale)]),
        histogram("http.server.duration", "ms", [({"http.route": "/chat"}, at_ns, 1, 12.0)]),
    ]
    return ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=Resource(attributes=[kv("service.name", service)]),
                scope_metrics=[metrics_pb2.ScopeMetrics(metrics=metrics)],
            )
        ]
    )
