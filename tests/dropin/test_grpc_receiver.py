"""The OTLP/gRPC receiver (traces/grpc_server.py), served in this process on a free port and called through
opentelemetry-proto's generated stubs over a real channel."""

import base64
import threading

import grpc
import pytest
from django.db import OperationalError
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tests.dropin.payloads import metrics_request
from tests.otlp_payloads import fixture_bytes
from traces import grpc_server, services
from traces.models import ApiKey, MetricPoint, MetricTally, Span

RAG = trace_service_pb2.ExportTraceServiceRequest.FromString(fixture_bytes("openinference__rag.pb"))


def trace_stub(port):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return trace_service_pb2_grpc.TraceServiceStub(channel), channel


def details(error: grpc.RpcError) -> status_pb2.Status:
    trailers = dict(error.trailing_metadata() or ())
    return status_pb2.Status.FromString(trailers.get("grpc-status-details-bin", b""))


def test_traces_over_grpc_are_stored_with_bearer_and_gzip(grpc_port, project, api_key):
    stub, channel = trace_stub(grpc_port)
    with channel:
        answer = stub.Export(RAG, metadata=[("authorization", f"Bearer {api_key}")], compression=grpc.Compression.Gzip)
    assert answer.partial_success.rejected_spans == 0
    spans = {s.name: s for s in Span.objects.filter(project=project)}
    assert set(spans) == {"rag.answer", "retrieve", "ChatCompletion"}
    assert spans["ChatCompletion"].model == "gpt-4o-mini" and spans["ChatCompletion"].kind == "llm"


def test_basic_auth_with_the_key_pair_works_and_a_wrong_public_part_is_unauthenticated(grpc_port, project, api_key):
    public = ApiKey.objects.get(project=project).public_key
    stub, channel = trace_stub(grpc_port)
    with channel:
        good = "Basic " + base64.b64encode(f"{public}:{api_key}".encode()).decode()
        stub.Export(RAG, metadata=[("authorization", good)])
        bad = "Basic " + base64.b64encode(f"pk-lf-other:{api_key}".encode()).decode()
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(RAG, metadata=[("authorization", bad)])
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Bearer <key>" in refused.value.details()
    assert Span.objects.filter(project=project).count() == 3


def test_no_key_is_unauthenticated(grpc_port, project):
    stub, channel = trace_stub(grpc_port)
    with channel, pytest.raises(grpc.RpcError) as refused:
        stub.Export(RAG)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert not Span.objects.exists()


def test_an_invalid_span_is_answered_with_partial_success(grpc_port, project, api_key):
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.CopyFrom(RAG)
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b""
    stub, channel = trace_stub(grpc_port)
    with channel:
        answer = stub.Export(request, metadata=[("authorization", f"Bearer {api_key}")])
    assert answer.partial_success.rejected_spans == 1
    assert "no trace id" in answer.partial_success.error_message or "trace" in answer.partial_success.error_message
    assert Span.objects.filter(project=project).count() == 2


def test_a_body_that_is_not_protobuf_is_invalid_argument(grpc_port, project, api_key):
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    raw = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    with channel, pytest.raises(grpc.RpcError) as refused:
        raw(b"\xff\xff\xff not protobuf", metadata=[("authorization", f"Bearer {api_key}")])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "could not decode the request" in refused.value.details()


def test_a_request_over_the_span_limit_is_resource_exhausted_without_retry_info(grpc_port, project, api_key, settings):
    settings.PEEKR_MAX_SPANS_PER_REQUEST = 2
    stub, channel = trace_stub(grpc_port)
    with channel, pytest.raises(grpc.RpcError) as refused:
        stub.Export(RAG, metadata=[("authorization", f"Bearer {api_key}")])
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "PEEKR_MAX_SPANS_PER_REQUEST" in refused.value.details()
    assert "google.rpc.retryinfo-bin" not in dict(refused.value.trailing_metadata())  # final, like HTTP's 413


def test_past_the_concurrency_limit_it_is_resource_exhausted_with_retry_info(grpc_port, project, api_key, settings):
    settings.PEEKR_INGEST_MAX_CONCURRENCY = 1
    settings.PEEKR_INGEST_RETRY_AFTER_SECONDS = 3
    slots = grpc_server.ingest_slots()
    assert slots.acquire(blocking=False)  # one ingest at work
    try:
        stub, channel = trace_stub(grpc_port)
        with channel, pytest.raises(grpc.RpcError) as refused:
            stub.Export(RAG, metadata=[("authorization", f"Bearer {api_key}")])
    finally:
        slots.release()
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = details(refused.value)
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry) and retry.retry_delay.seconds == 3
    assert (
        error_details_pb2.RetryInfo.FromString(
            dict(refused.value.trailing_metadata())["google.rpc.retryinfo-bin"]
        ).retry_delay.seconds
        == 3
    )
    assert not Span.objects.exists()


def test_a_database_outage_is_unavailable_with_retry_info(grpc_port, project, api_key, monkeypatch):
    # The outage itself is simulated at the service boundary; tests/traces/test_ingest_storage_unavailable.py
    # covers a real one for HTTP, and the mapping here is the same code path.
    def down(**kw):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(services, "spans_ingest", down)
    stub, channel = trace_stub(grpc_port)
    with channel, pytest.raises(grpc.RpcError) as refused:
        stub.Export(RAG, metadata=[("authorization", f"Bearer {api_key}")])
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert details(refused.value).details, "RetryInfo expected"


def test_metrics_over_grpc_keep_genai_points_and_count_the_others(grpc_port, project, api_key):
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
    with channel:
        answer = stub.Export(metrics_request(), metadata=[("authorization", f"Bearer {api_key}")])
    assert answer.partial_success.rejected_data_points == 0
    assert isinstance(answer, metrics_service_pb2.ExportMetricsServiceResponse)
    names = set(MetricPoint.objects.filter(project=project).values_list("name", flat=True))
    assert names == {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"}
    assert MetricTally.objects.get(project=project).dropped_points == 1


def test_logs_over_grpc_are_accepted(grpc_port, project, api_key):
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    stub = logs_service_pb2_grpc.LogsServiceStub(channel)
    request = logs_service_pb2.ExportLogsServiceRequest.FromString(fixture_bytes("genai-v2-events__chat.logs.pb"))
    with channel:
        stub.Export(request, metadata=[("authorization", f"Bearer {api_key}")])
    from traces.models import LogEvent

    assert LogEvent.objects.filter(project=project).exists()


def test_concurrent_exports_from_several_threads_all_land(grpc_port, project, api_key):
    bodies = []
    for i in range(6):
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.CopyFrom(RAG)
        for span in (s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans):
            span.trace_id = bytes([i + 1]) * 16
            span.span_id = bytes([i + 1]) + span.span_id[1:]
            span.parent_span_id = (bytes([i + 1]) + span.parent_span_id[1:]) if span.parent_span_id else b""
        bodies.append(request)
    stub, channel = trace_stub(grpc_port)
    errors = []

    def send(request):  # as an exporter does: come back after a RESOURCE_EXHAUSTED
        for _ in range(100):
            try:
                stub.Export(request, metadata=[("authorization", f"Bearer {api_key}")])
                return
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    break
                threading.Event().wait(0.05)
        errors.append(request)

    with channel:
        threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert Span.objects.filter(project=project).count() == 18


def test_a_message_over_the_body_limit_is_refused_by_grpc_itself(transactional_db, project, api_key, settings):
    settings.PEEKR_MAX_BODY_BYTES = 1024  # read when the server is made
    server, port = grpc_server.server_create("127.0.0.1:0")
    try:
        stub, channel = trace_stub(port)
        with channel, pytest.raises(grpc.RpcError) as refused:
            stub.Export(RAG, metadata=[("authorization", f"Bearer {api_key}")], compression=grpc.Compression.Gzip)
    finally:
        server.stop(grace=None).wait()
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not Span.objects.exists()
