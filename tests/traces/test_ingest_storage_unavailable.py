"""A database that fails transiently gets 503 + Retry-After in the request's own format (exporters retry it);
any other failure of a receiver is a 500 in that format too, never an HTML page."""

import http.client
import json
import logging
import secrets
from contextlib import contextmanager

import pytest
from django.db import OperationalError, ProgrammingError, connection
from django.test import Client
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs

from tests.otlp_payloads import json_request, json_span, pb_request, pb_span
from tests.traces.gunicorn_server import free_port, gunicorn_server
from traces.models import Span

PB = "application/x-protobuf"


@contextmanager
def failing_queries(error: Exception, only: str = ""):
    """Every SQL statement (or those starting with `only`) fails with error, as a database going away does."""

    def wrapper(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(only):
            raise error
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def otlp_body(content_type: str) -> tuple[bytes, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    if content_type == PB:
        return pb_request([pb_span(trace_id=trace_id, span_id=span_id)]).SerializeToString(), span_id
    return json_request([json_span(trace_id=trace_id, span_id=span_id)]), span_id


def post(client, path: str, body: bytes, key: str, content_type: str):
    return client.post(path, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", [PB, "application/json"])
def test_a_database_that_is_down_gets_503_with_retry_after(client, project, api_key, settings, content_type, caplog):
    settings.PEEKR_INGEST_RETRY_AFTER_SECONDS = 9
    body, _ = otlp_body(content_type)

    with caplog.at_level(logging.ERROR, logger="traces.wire"), failing_queries(OperationalError("server closed")):
        resp = post(client, "/v1/traces", body, api_key, content_type)

    assert resp.status_code == 503
    assert resp["Retry-After"] == "9"
    assert resp["Content-Type"] == content_type
    if content_type == PB:
        status = status_pb2.Status.FromString(resp.content)
        code, message = status.code, status.message
    else:
        code, message = resp.json()["code"], resp.json()["message"]
    assert code == 14  # UNAVAILABLE
    assert "database" in message and "server closed" not in message  # details go to the log, not the client
    assert "server closed" in caplog.text


@pytest.mark.django_db
def test_a_write_that_fails_mid_ingest_gets_503_and_leaves_nothing(client, project, api_key):
    body, span_id = otlp_body(PB)

    with failing_queries(OperationalError("lock timeout"), only="INSERT"):
        resp = post(client, "/v1/traces", body, api_key, PB)

    assert resp.status_code == 503 and resp.has_header("Retry-After")
    assert not Span.objects.filter(project=project).exists()
    # The exporter's retry then lands.
    assert post(client, "/v1/traces", body, api_key, PB).status_code == 200
    assert Span.objects.filter(project=project, span_id=span_id).exists()


@pytest.mark.django_db
def test_the_sdk_and_log_receivers_answer_503_too(client, project, api_key):
    with failing_queries(OperationalError("connection refused")):
        sdk = post(client, "/v1/spans", b'{"spans": []}', api_key, "application/json")
        logs = post(
            client,
            "/v1/logs",
            ExportLogsServiceRequest(resource_logs=[ResourceLogs()]).SerializeToString(),
            api_key,
            PB,
        )

    assert (sdk.status_code, sdk["Content-Type"]) == (503, "application/json")
    assert "database" in sdk.json()["error"] and sdk.has_header("Retry-After")
    assert (logs.status_code, logs["Content-Type"]) == (503, PB)
    assert status_pb2.Status.FromString(logs.content).code == 14


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path,content_type", [("/v1/traces", PB), ("/v1/traces", "application/json"), ("/v1/spans", "application/json")]
)
def test_a_bug_in_a_receiver_is_a_500_in_the_request_format_not_html(project, api_key, path, content_type):
    client = Client(raise_request_exception=False)
    body = otlp_body(content_type)[0] if path == "/v1/traces" else b'{"spans": []}'

    with failing_queries(ProgrammingError("column does not exist")):
        resp = post(client, path, body, api_key, content_type)

    assert resp.status_code == 500
    assert resp["Content-Type"] == content_type
    assert b"<html" not in resp.content.lower()
    assert not resp.has_header("Retry-After")  # a bug is not transient: exporters must not retry it forever
    if content_type == PB:
        assert status_pb2.Status.FromString(resp.content).code == 13  # INTERNAL
    else:
        assert "internal error" in json.dumps(resp.json())


def test_gunicorn_with_an_unreachable_database_answers_503(subprocess_env, tmp_path, api_key):
    # Nothing listens on that port: every connection attempt is refused, as with PostgreSQL down.
    env = {**subprocess_env, "PEEKR_DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/peekr_nowhere"}
    body, _ = otlp_body(PB)

    with gunicorn_server(env, tmp_path) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST", "/v1/traces", body=body, headers={"Content-Type": PB, "Authorization": f"Bearer {api_key}"}
        )
        response = conn.getresponse()
        data = response.read()
        conn.close()

    assert (response.status, response.getheader("Content-Type")) == (503, PB), data
    assert response.getheader("Retry-After") == "2"
    assert status_pb2.Status.FromString(data).code == 14
