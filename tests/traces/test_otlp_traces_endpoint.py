import gzip
import json
import math
import secrets
import zlib

import pytest
from django.db import connection
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.otlp_payloads import fixture_bytes, json_request, json_span, pb_request, pb_span
from traces import lean
from traces.models import Span, Trace
from traces.services import api_key_revoke

PB = "application/x-protobuf"


def post(client, body: bytes, key: str | None, content_type: str = PB, **headers):
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.post("/v1/traces", data=body, content_type=content_type, **headers)


@pytest.mark.django_db
def test_it_stores_a_protobuf_export_from_a_real_instrumentation(client, project, api_key):
    resp = post(client, fixture_bytes("openinference__rag.pb"), api_key)

    assert resp.status_code == 200
    assert resp["Content-Type"] == PB
    assert ExportTraceServiceResponse.FromString(resp.content).partial_success.rejected_spans == 0
    spans = {s.name: s for s in Span.objects.filter(project=project)}
    assert set(spans) == {"rag.answer", "retrieve", "ChatCompletion"}
    assert spans["retrieve"].kind == "retriever"
    assert [d["id"] for d in spans["retrieve"].documents] == ["doc-17", "doc-42"]
    assert spans["ChatCompletion"].model == "gpt-4o-mini"
    trace = Trace.objects.get(project=project)
    assert trace.name == "rag.answer"
    assert trace.span_count == 3
    assert trace.session_id == "fixture-session-1"
    assert trace.total_tokens == 59


@pytest.mark.django_db
def test_it_accepts_otlp_json_with_hex_ids_and_string_int64(client, project, api_key):
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    body = json_request([json_span(trace_id=trace_id, span_id=span_id, name="GET /chat", start_ns=1795315283915921635)])

    resp = post(client, body, api_key, content_type="application/json")

    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json"
    span = Span.objects.get(project=project, span_id=span_id)
    assert span.trace.trace_id == trace_id
    assert span.start_time.timestamp() == pytest.approx(1795315283.915921, abs=1e-6)
    assert span.duration_ms == pytest.approx(250.0)
    assert span.service_name == "web-frontend"


@pytest.mark.django_db
def test_it_accepts_the_json_twin_of_every_fixture(client, project, api_key):
    pb = fixture_bytes("traceloop__tool_call.pb")
    js = fixture_bytes("traceloop__tool_call.json")
    assert post(client, js, api_key, content_type="application/json").status_code == 200
    first = {s.span_id: (s.name, s.kind, s.model, s.input_tokens) for s in Span.objects.filter(project=project)}
    assert post(client, pb, api_key).status_code == 200
    second = {s.span_id: (s.name, s.kind, s.model, s.input_tokens) for s in Span.objects.filter(project=project)}
    assert first == second and len(first) == 3


@pytest.mark.django_db
def test_a_duplicate_delivery_gives_one_row_per_span(client, project, api_key):
    body = fixture_bytes("genai-v2__tool_call.pb")
    assert post(client, body, api_key).status_code == 200
    count = Span.objects.filter(project=project).count()
    assert post(client, body, api_key).status_code == 200
    assert post(client, gzip.compress(body), api_key, HTTP_CONTENT_ENCODING="gzip").status_code == 200

    assert Span.objects.filter(project=project).count() == count
    assert Trace.objects.filter(project=project).count() == 1
    assert Trace.objects.get(project=project).span_count == count


@pytest.mark.django_db
def test_a_span_sent_open_then_ended_updates_its_row(client, project, api_key):
    trace_id = secrets.token_hex(16)
    span = pb_span(trace_id=trace_id, name="agent", duration=3.0)
    open_span = pb_span(trace_id=trace_id, span_id=span.span_id.hex(), name="agent", duration=0)
    open_span.start_time_unix_nano = span.start_time_unix_nano
    open_span.end_time_unix_nano = 0  # still running

    assert post(client, pb_request([open_span]).SerializeToString(), api_key).status_code == 200
    stored = Span.objects.get(project=project, span_id=span.span_id.hex())
    assert stored.end_time is None
    assert Trace.objects.get(project=project).root_ended is False

    assert post(client, pb_request([span]).SerializeToString(), api_key).status_code == 200
    stored.refresh_from_db()
    assert stored.duration_ms == pytest.approx(3000.0)
    trace = Trace.objects.get(project=project)
    assert trace.root_ended is True and trace.duration_ms == pytest.approx(3000.0)


@pytest.mark.django_db
def test_invalid_spans_are_rejected_one_by_one_and_the_rest_stored(client, project, api_key):
    trace_id = secrets.token_hex(16)
    good = json_span(trace_id=trace_id, span_id=secrets.token_hex(8), name="good")
    bad_trace = json_span(trace_id="00" * 16, span_id=secrets.token_hex(8), name="zero-trace")
    backwards = json_span(trace_id=trace_id, span_id=secrets.token_hex(8), name="backwards")
    backwards["endTimeUnixNano"] = str(int(backwards["startTimeUnixNano"]) - 1)
    body = json_request([good, bad_trace, backwards])

    resp = post(client, body, api_key, content_type="application/json")

    assert resp.status_code == 200
    partial = resp.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert "zero-trace" in partial["errorMessage"] and "backwards" in partial["errorMessage"]
    assert list(Span.objects.filter(project=project).values_list("name", flat=True)) == ["good"]


@pytest.mark.django_db
def test_partial_success_is_answered_in_protobuf_for_protobuf(client, project, api_key):
    trace_id = secrets.token_hex(16)
    bad = pb_span(trace_id=trace_id, name="")  # a span needs a name
    good = pb_span(trace_id=trace_id, name="ok")

    resp = post(client, pb_request([good, bad]).SerializeToString(), api_key)

    assert resp.status_code == 200
    partial = ExportTraceServiceResponse.FromString(resp.content).partial_success
    assert partial.rejected_spans == 1
    assert bad.span_id.hex() in partial.error_message
    assert Span.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_an_undecodable_body_is_400_with_a_message(client, project, api_key):
    resp = post(client, b"\xff\x00 definitely not protobuf \x12\x99", api_key)
    assert resp.status_code == 400
    assert "could not decode" in status_pb2.Status.FromString(resp.content).message

    resp = post(client, b"{not json", api_key, content_type="application/json")
    assert resp.status_code == 400
    assert "could not decode" in resp.json()["message"]
    assert Span.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_or_revoked_key_is_401(client, project, api_key):
    body = fixture_bytes("genai-v2__chat.pb")
    assert post(client, body, None).status_code == 401
    assert post(client, body, "pk_not-a-key").status_code == 401
    key = project.api_keys.get()
    api_key_revoke(key=key)
    assert post(client, body, api_key).status_code == 401
    assert Span.objects.count() == 0


@pytest.mark.django_db
def test_other_content_types_are_415(client, api_key):
    resp = post(client, b"hello", api_key, content_type="text/plain")
    assert resp.status_code == 415
    assert "application/x-protobuf" in resp.json()["message"]


@pytest.mark.django_db
def test_a_body_over_the_limit_is_413(client, api_key, settings):
    settings.PEEKR_MAX_BODY_BYTES = 1024
    trace_id = secrets.token_hex(16)
    big = pb_request([pb_span(trace_id=trace_id, attributes={"input.value": "x" * 4096})]).SerializeToString()
    resp = post(client, big, api_key)
    assert resp.status_code == 413
    assert "limit" in status_pb2.Status.FromString(resp.content).message
    assert Span.objects.count() == 0


@pytest.mark.django_db
def test_a_gzip_bomb_is_413_not_a_memory_spike(client, api_key, settings):
    settings.PEEKR_MAX_BODY_BYTES = 1024 * 1024
    bomb = gzip.compress(b"\x00" * (200 * 1024 * 1024), compresslevel=9)  # 200 MiB inflates from ~200 KiB
    assert len(bomb) < settings.PEEKR_MAX_BODY_BYTES

    resp = post(client, bomb, api_key, HTTP_CONTENT_ENCODING="gzip")

    assert resp.status_code == 413
    assert "decompressed" in status_pb2.Status.FromString(resp.content).message


@pytest.mark.django_db
def test_gzip_and_deflate_bodies_are_accepted(client, project, api_key):
    body = fixture_bytes("genai-v2__chat.pb")
    assert post(client, gzip.compress(body), api_key, HTTP_CONTENT_ENCODING="gzip").status_code == 200
    assert post(client, zlib.compress(body), api_key, HTTP_CONTENT_ENCODING="deflate").status_code == 200
    raw = zlib.compressobj(wbits=-15)
    deflated = raw.compress(body) + raw.flush()
    assert post(client, deflated, api_key, HTTP_CONTENT_ENCODING="deflate").status_code == 200
    assert Span.objects.filter(project=project).count() == 1
    resp = post(client, b"not gzip", api_key, HTTP_CONTENT_ENCODING="gzip")
    assert resp.status_code == 400


@pytest.mark.django_db
def test_ingest_cost_in_queries_does_not_grow_with_the_batch(client, api_key, django_assert_max_num_queries):
    spans = []
    for _ in range(100):  # 100 traces of five spans
        trace_id = secrets.token_hex(16)
        root = pb_span(trace_id=trace_id, name="root")
        spans.append(root)
        spans += [
            pb_span(
                trace_id=trace_id,
                parent_span_id=root.span_id.hex(),
                name="chat",
                attributes={"gen_ai.request.model": "gpt-4o"},
            )
            for _ in range(4)
        ]
    # A fixed number of statements, plus the batches the backend's parameter limit forces on a bulk write
    # (one each on PostgreSQL; SQLite's 999-parameter limit splits 500 wide rows into ~24 INSERTs).
    n_span_fields = len(Span._meta.concrete_fields)
    # 11: the fixed statements include reading the project's privacy settings (one per request, any batch size)
    # and the stand-in input/output of traces whose root has none (one per refresh).
    bound = 11 + batches(500, n_span_fields) + batches(100, 5) + batches(100, 2 * 21 + 1)
    with django_assert_max_num_queries(bound):
        assert post(client, pb_request(spans).SerializeToString(), api_key).status_code == 200
    assert Span.objects.count() == 500


def batches(rows: int, params_per_row: int) -> int:
    limit = connection.features.max_query_params
    return 1 if limit is None else math.ceil(rows / max(1, limit // params_per_row))


def test_the_json_error_body_is_json(client, db):
    resp = client.post("/v1/traces", data=json.dumps({}), content_type="application/json")
    assert resp.status_code == 401
    assert resp.json()["code"] == 16


@pytest.mark.django_db
def test_nul_characters_nan_and_bytes_are_stored_not_rejected(client, project, api_key):
    trace_id = secrets.token_hex(16)
    span = pb_span(trace_id=trace_id, name="odd", attributes={"input.value": "a\x00b", "score": float("nan")})
    span.attributes.add(key="blob").value.bytes_value = b"\x00\x01"
    assert post(client, pb_request([span]).SerializeToString(), api_key).status_code == 200
    stored = Span.objects.get(project=project)
    assert stored.input_text == lean.raw_attributes(stored)["input.value"] == "a\ufffdb"  # stored once: traces.lean
    assert stored.attributes["score"] is None
    assert stored.attributes["blob"] == "AAE="
