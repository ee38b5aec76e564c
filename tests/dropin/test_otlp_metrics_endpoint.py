"""POST /v1/metrics (and Langfuse's /api/public/otel/v1/metrics): GenAI metrics kept as time series, other
metrics accepted and dropped, counted."""

import gzip
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from tests.dropin.payloads import START_NS, metrics_request
from traces.metric_points import metric_series
from traces.models import MetricPoint, MetricTally

PB = "application/x-protobuf"


def post(client, body, key, content_type=PB, path="/v1/metrics", **headers):
    return client.post(path, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


@pytest.mark.django_db
def test_genai_metrics_are_stored_by_model_and_service(client, project, api_key, caplog):
    with caplog.at_level(logging.INFO, logger="traces.metric_points"):
        resp = post(client, gzip.compress(metrics_request().SerializeToString()), api_key, HTTP_CONTENT_ENCODING="gzip")

    assert resp.status_code == 200 and resp["Content-Type"] == PB
    assert not ExportMetricsServiceResponse.FromString(resp.content).HasField("partial_success")
    usage = {p.token_type: p for p in MetricPoint.objects.filter(project=project, name="gen_ai.client.token.usage")}
    assert set(usage) == {"input", "output"}
    assert (usage["input"].model, usage["input"].service_name, usage["input"].sum) == ("gpt-4o-mini", "rag-app", 42.0)
    assert usage["input"].kind == "histogram" and usage["input"].cumulative and usage["input"].count == 1
    duration = MetricPoint.objects.get(project=project, name="gen_ai.client.operation.duration")
    assert (duration.unit, duration.sum, duration.bounds) == ("s", 0.5, [1.0])
    tally = MetricTally.objects.get(project=project)
    assert (tally.stored_points, tally.dropped_points, tally.dropped_names) == (3, 1, ["http.server.duration"])
    assert "1 point(s) of other metrics accepted and dropped: http.server.duration (1)" in caplog.text


@pytest.mark.django_db
def test_otlp_json_is_read_the_same(client, project, api_key):
    body = json_format.MessageToJson(metrics_request()).encode()  # lowerCamelCase, int64 as strings
    resp = post(client, body, api_key, content_type="application/json")
    assert resp.status_code == 200 and resp.json() == {}
    assert MetricPoint.objects.filter(project=project).count() == 3


@pytest.mark.django_db
def test_the_langfuse_style_path_and_a_retried_batch_store_each_point_once(client, project, api_key):
    body = metrics_request().SerializeToString()
    assert post(client, body, api_key).status_code == 200
    assert post(client, body, api_key, path="/api/public/otel/v1/metrics").status_code == 200
    assert MetricPoint.objects.filter(project=project).count() == 3
    assert MetricTally.objects.get(project=project).dropped_points == 2


@pytest.mark.django_db
def test_a_request_with_only_other_metrics_is_200_and_counted(client, project, api_key):
    request = metrics_request()
    metrics = request.resource_metrics[0].scope_metrics[0].metrics
    del metrics[:2]
    resp = post(client, request.SerializeToString(), api_key)
    assert resp.status_code == 200
    assert not MetricPoint.objects.exists()
    assert MetricTally.objects.get(project=project).dropped_points == 1


@pytest.mark.django_db
def test_a_point_with_a_time_out_of_range_is_rejected_through_partial_success(client, project, api_key):
    request = metrics_request()
    request.resource_metrics[0].scope_metrics[0].metrics[1].histogram.data_points[0].time_unix_nano = 1_700_000_000
    resp = post(client, request.SerializeToString(), api_key)
    partial = ExportMetricsServiceResponse.FromString(resp.content).partial_success
    assert resp.status_code == 200
    assert partial.rejected_data_points == 1 and "out of range" in partial.error_message
    assert MetricPoint.objects.filter(project=project).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, content_type, status, message",
    [
        (b"\xff\xff not protobuf", PB, 400, "could not decode the request"),
        (b"{not json", "application/json", 400, "invalid JSON"),
        (b"[1, 2]", "application/json", 400, "must be a JSON object"),
        (b'{"resourceMetrics": [{"scopeMetrics": "nope"}]}', "application/json", 400, "invalid OTLP/JSON metrics"),
        (b"x", "text/plain", 415, "unsupported Content-Type"),
    ],
)
def test_bad_input_gets_a_clear_error(client, project, api_key, body, content_type, status, message):
    resp = post(client, body, api_key, content_type=content_type)
    assert resp.status_code == status
    assert message in resp.content.decode("utf-8", "replace")
    assert not MetricPoint.objects.exists()


@pytest.mark.django_db
def test_too_many_points_is_413(client, project, api_key, settings):
    settings.PEEKR_MAX_SPANS_PER_REQUEST = 2
    resp = post(client, metrics_request().SerializeToString(), api_key, content_type=PB)
    assert resp.status_code == 413 and b"data points" in resp.content


@pytest.mark.django_db
def test_no_key_is_401(client, project):
    resp = client.post("/v1/metrics", data=metrics_request().SerializeToString(), content_type=PB)
    assert resp.status_code == 401
    assert not MetricPoint.objects.exists()


@pytest.mark.django_db
def test_cumulative_points_become_per_interval_figures(client, project, api_key):
    minute = 60_000_000_000
    for i in range(1, 4):  # cumulative: 1, 2, 3 calls since the start; 42, 84, 126 input tokens
        post(client, metrics_request(at_ns=START_NS + i * minute, scale=i).SerializeToString(), api_key)
    since = datetime.fromtimestamp(START_NS / 1e9, UTC)
    series = metric_series(
        project=project, name="gen_ai.client.token.usage", since=since, step=timedelta(minutes=1), by_token_type=True
    )
    inputs = series["gpt-4o-mini · input"]
    assert [(round((b - since).total_seconds()), i.count, i.sum) for b, i in sorted(inputs.items())] == [
        (60, 1, 42.0),
        (120, 1, 42.0),
        (180, 1, 42.0),
    ]
    duration = metric_series(
        project=project, name="gen_ai.client.operation.duration", since=since, step=timedelta(minutes=3)
    )
    intervals = duration["gpt-4o-mini"].values()
    assert (sum(i.count for i in intervals), sum(i.sum for i in intervals)) == (3, 1.5)


@pytest.mark.django_db
def test_the_json_answer_carries_partial_success_in_otlp_json(client, project, api_key):
    request = metrics_request()
    request.resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].time_unix_nano = 5
    resp = post(client, json_format.MessageToJson(request).encode(), api_key, content_type="application/json")
    assert json.loads(resp.content)["partialSuccess"]["rejectedDataPoints"] == "1"
