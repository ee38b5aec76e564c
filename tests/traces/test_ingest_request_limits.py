"""What one ingest request may cost: decoded size, spans per request, attributes and string length per span."""

import gzip
import json
import secrets

import pytest
from google.rpc import status_pb2

from tests.otlp_payloads import json_request, json_span, pb_request, pb_span
from tests.traces.test_peekr_spans_endpoint import sdk_span
from traces import lean
from traces.models import Span
from traces.sanitize import DROPPED_KEY, TRUNCATED_KEY

PB, JSON = "application/x-protobuf", "application/json"


def post(client, path: str, body: bytes, key: str, content_type: str = JSON, **headers):
    return client.post(path, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


def three_span_bodies() -> dict[str, tuple[str, str, bytes]]:
    tid = secrets.token_hex(16)
    return {
        "otlp protobuf": ("/v1/traces", PB, pb_request([pb_span(trace_id=tid) for _ in range(3)]).SerializeToString()),
        "otlp json": (
            "/v1/traces",
            JSON,
            json_request([json_span(trace_id=tid, span_id=secrets.token_hex(8)) for _ in range(3)]),
        ),
        "peekr": ("/v1/spans", JSON, json.dumps({"spans": [sdk_span() for _ in range(3)]}).encode()),
    }


def error_message(resp) -> str:
    if resp["Content-Type"] == PB:
        return status_pb2.Status.FromString(resp.content).message
    data = resp.json()
    return data.get("message") or data.get("error")


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["otlp protobuf", "otlp json", "peekr"])
def test_more_spans_than_the_limit_is_413_with_a_message_and_nothing_stored(client, api_key, settings, case):
    settings.PEEKR_MAX_SPANS_PER_REQUEST = 2
    path, content_type, body = three_span_bodies()[case]

    resp = post(client, path, body, api_key, content_type)

    assert resp.status_code == 413
    assert "3 spans, over the limit of 2 (PEEKR_MAX_SPANS_PER_REQUEST)" in error_message(resp)
    assert Span.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["otlp protobuf", "otlp json", "peekr"])
def test_a_batch_at_the_span_limit_is_stored(client, api_key, settings, case):
    settings.PEEKR_MAX_SPANS_PER_REQUEST = 3
    path, content_type, body = three_span_bodies()[case]

    assert post(client, path, body, api_key, content_type).status_code == 200
    assert Span.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["otlp protobuf", "otlp json", "peekr"])
def test_a_small_gzip_body_that_decodes_past_the_limit_is_413(client, api_key, settings, case):
    path, content_type, body = three_span_bodies()[case]
    settings.PEEKR_MAX_DECODED_BYTES = len(body) - 1
    compressed = gzip.compress(body)
    assert len(compressed) < settings.PEEKR_MAX_BODY_BYTES

    resp = post(client, path, compressed, api_key, content_type, HTTP_CONTENT_ENCODING="gzip")

    assert resp.status_code == 413
    assert "PEEKR_MAX_DECODED_MB" in error_message(resp)
    assert Span.objects.count() == 0


@pytest.mark.django_db
def test_log_bodies_have_the_decoded_limit_too(client, api_key, settings):
    settings.PEEKR_MAX_DECODED_BYTES = 10
    resp = post(client, "/v1/logs", json.dumps({"resourceLogs": []}).encode(), api_key)
    assert resp.status_code == 413 and "PEEKR_MAX_DECODED_MB" in error_message(resp)


@pytest.mark.django_db
def test_attributes_over_the_limits_are_cut_with_a_marker_and_counted_on_every_path(client, project, api_key, settings):
    settings.PEEKR_MAX_ATTRIBUTES_PER_SPAN = 3
    settings.PEEKR_MAX_ATTRIBUTE_VALUE_CHARS = 8
    attrs = {"a": "0123456789abc", "b": "ok", "c": "ok", "d": "dropped", "e": "dropped"}
    tid = secrets.token_hex(16)
    pb = pb_span(trace_id=tid, attributes=attrs)
    js = json_span(
        trace_id=tid,
        span_id=secrets.token_hex(8),
        attributes=[{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
    )
    sdk = sdk_span(attributes=attrs)

    assert post(client, "/v1/traces", pb_request([pb]).SerializeToString(), api_key, PB).status_code == 200
    assert post(client, "/v1/traces", json_request([js]), api_key).status_code == 200
    assert post(client, "/v1/spans", json.dumps({"spans": [sdk]}).encode(), api_key).status_code == 200

    for span_id in (pb.span_id.hex(), js["spanId"], sdk["span_id"]):
        stored = lean.raw_attributes(Span.objects.get(project=project, span_id=span_id))  # what recurs is shared
        assert stored == {
            "a": "01234567…[truncated 5 characters]",
            "b": "ok",
            "c": "ok",
            DROPPED_KEY: 2,
            TRUNCATED_KEY: 1,
        }
