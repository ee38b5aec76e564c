"""POST /api/public/otel/v1/traces: Langfuse's OTLP endpoint, the same receiver as /v1/traces, with the key pair
the Langfuse SDKs send as Basic auth (public part : the key itself)."""

import base64
import gzip
import json
import secrets

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.otlp_payloads import fixture_bytes, json_request, json_span
from traces.models import ApiKey, Span
from traces.services import api_key_revoke

PB = "application/x-protobuf"
URL = "/api/public/otel/v1/traces"


def basic(public: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()


def public_of(project) -> str:
    return ApiKey.objects.get(project=project).public_key


@pytest.mark.django_db
def test_every_key_has_a_langfuse_style_public_part(project):
    public = public_of(project)
    assert public.startswith("pk-lf-") and len(public) > 20


@pytest.mark.django_db
def test_a_langfuse_export_with_basic_auth_is_stored(client, project, api_key):
    resp = client.post(
        URL,
        data=gzip.compress(fixture_bytes("openinference__rag.pb")),
        content_type=PB,
        HTTP_AUTHORIZATION=basic(public_of(project), api_key),
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_X_LANGFUSE_PUBLIC_KEY=public_of(project),
        HTTP_X_LANGFUSE_INGESTION_VERSION="4",
    )

    assert resp.status_code == 200, resp.content
    assert ExportTraceServiceResponse.FromString(resp.content).partial_success.rejected_spans == 0
    assert Span.objects.filter(project=project).count() == 3


@pytest.mark.django_db
def test_basic_auth_works_on_v1_traces_too(client, project, api_key):
    body = json_request([json_span(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8))])
    resp = client.post(
        "/v1/traces", data=body, content_type="application/json", HTTP_AUTHORIZATION=basic(public_of(project), api_key)
    )
    assert resp.status_code == 200
    assert Span.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_bearer_auth_works_on_the_langfuse_path(client, project, api_key):
    body = json_request([json_span(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8))])
    resp = client.post(URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert resp.status_code == 200


@pytest.mark.django_db
def test_the_langfuse_path_answers_partial_success_for_an_invalid_span(client, project, api_key):
    good = json_span(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8), name="good")
    bad = json_span(trace_id="", span_id=secrets.token_hex(8), name="bad")
    resp = client.post(
        URL,
        data=json_request([good, bad]),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(public_of(project), api_key),
    )
    assert resp.status_code == 200
    assert resp.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert list(Span.objects.filter(project=project).values_list("name", flat=True)) == ["good"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(lambda pub, sec, other_pub: basic("pk-lf-not-this-keys", sec), id="wrong public part"),
        pytest.param(lambda pub, sec, other_pub: basic(other_pub, sec), id="another key's public part"),
        pytest.param(lambda pub, sec, other_pub: basic(pub, sec + "x"), id="wrong secret"),
        pytest.param(lambda pub, sec, other_pub: basic("", sec), id="no public part"),
        pytest.param(lambda pub, sec, other_pub: "Basic " + base64.b64encode(sec.encode()).decode(), id="no colon"),
        pytest.param(lambda pub, sec, other_pub: "Basic not*base64", id="not base64"),
        pytest.param(lambda pub, sec, other_pub: "Basic " + base64.b64encode(b"\xff:\xfe").decode(), id="not utf-8"),
        pytest.param(lambda pub, sec, other_pub: "", id="none"),
    ],
)
def test_a_key_pair_that_does_not_match_is_401(client, project, api_key, other_project_and_key, authorization):
    other_public = public_of(other_project_and_key[0])
    header = authorization(public_of(project), api_key, other_public)
    resp = client.post(URL, data=fixture_bytes("openinference__rag.pb"), content_type=PB, HTTP_AUTHORIZATION=header)
    assert resp.status_code == 401
    assert b"Basic base64(public:key)" in resp.content
    assert not Span.objects.exists()


@pytest.mark.django_db
def test_a_revoked_key_pair_is_401(client, project, api_key):
    public = public_of(project)
    api_key_revoke(key=ApiKey.objects.get(project=project))
    resp = client.post(URL, data=b"{}", content_type="application/json", HTTP_AUTHORIZATION=basic(public, api_key))
    assert resp.status_code == 401
    assert json.loads(resp.content)["code"] == 16  # UNAUTHENTICATED


@pytest.mark.django_db
def test_a_500_on_the_langfuse_path_is_an_otlp_status_not_a_page(rf):
    from traces.wire import server_error

    resp = server_error(rf.post(URL, data=b"x", content_type=PB))
    assert resp.status_code == 500 and resp["Content-Type"] == PB
