"""Chunked request bodies (no Content-Length): read to the end under gunicorn, 411 where the server cannot."""

import http.client
import json
import secrets
import uuid

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.otlp_payloads import pb_request, pb_span
from tests.traces.gunicorn_server import gunicorn_server
from traces.models import Span

PB = "application/x-protobuf"


def post_chunked(port: int, path: str, body: bytes, headers: dict, chunk: int = 1000) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pieces = (body[i : i + chunk] for i in range(0, len(body), chunk))
    conn.request("POST", path, body=pieces, headers={**headers, "Transfer-Encoding": "chunked"}, encode_chunked=True)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def three_spans_body() -> tuple[bytes, set[str]]:
    trace_id = secrets.token_hex(16)
    spans = [pb_span(trace_id=trace_id, name=f"step-{i}", attributes={"input.value": "x" * 900}) for i in range(3)]
    return pb_request(spans).SerializeToString(), {s.span_id.hex() for s in spans}


def test_gunicorn_stores_a_chunked_otlp_export(subprocess_env, tmp_path, project, api_key):
    body, span_ids = three_spans_body()
    assert len(body) > 2000  # several chunks

    with gunicorn_server(subprocess_env, tmp_path) as port:
        status, _, data = post_chunked(
            port, "/v1/traces", body, {"Content-Type": PB, "Authorization": f"Bearer {api_key}"}
        )

    assert status == 200, data
    assert ExportTraceServiceResponse.FromString(data).partial_success.rejected_spans == 0
    assert set(Span.objects.filter(project=project).values_list("span_id", flat=True)) == span_ids


def test_gunicorn_stores_a_chunked_peekr_sdk_batch(subprocess_env, tmp_path, project, api_key):
    span_id = uuid.uuid4().hex
    span = {
        "name": "chat",
        "trace_id": uuid.uuid4().hex,
        "span_id": span_id,
        "start_time": 1.7e9,
        "end_time": 1.7e9 + 1,
    }
    body = json.dumps({"spans": [span]}).encode()

    with gunicorn_server(subprocess_env, tmp_path) as port:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
        status, _, data = post_chunked(port, "/v1/spans", body, headers, chunk=40)

    assert status == 200, data
    assert json.loads(data)["accepted"] == 1
    assert list(Span.objects.filter(project=project).values_list("span_id", flat=True)) == [span_id]


def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(subprocess_env, tmp_path, project, api_key):
    body = pb_request(
        [pb_span(trace_id=secrets.token_hex(16), attributes={"input.value": "y" * 1_200_000})]
    ).SerializeToString()
    env = {**subprocess_env, "PEEKR_MAX_BODY_MB": "1"}

    with gunicorn_server(env, tmp_path) as port:
        status, _, data = post_chunked(
            port, "/v1/traces", body, {"Content-Type": PB, "Authorization": f"Bearer {api_key}"}, chunk=64 * 1024
        )

    assert status == 413
    assert "1048576-byte limit" in status_pb2.Status.FromString(data).message
    assert not Span.objects.filter(project=project).exists()


@pytest.mark.django_db(transaction=True)
def test_a_server_that_cannot_read_chunked_bodies_answers_411(live_server, project, api_key):
    # Django's own server (runserver, live_server) bounds the input by Content-Length: a chunked body reads as
    # empty there. Answering 200 would drop the spans silently; 411 tells the exporter to send a length.
    body, _ = three_spans_body()
    port = int(live_server.url.rsplit(":", 1)[1])

    status, _, data = post_chunked(port, "/v1/traces", body, {"Content-Type": PB, "Authorization": f"Bearer {api_key}"})

    assert status == 411
    assert "Content-Length" in status_pb2.Status.FromString(data).message
    assert not Span.objects.filter(project=project).exists()
