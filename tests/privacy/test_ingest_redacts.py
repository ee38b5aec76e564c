"""Personal data sent through the real receivers (OTLP/HTTP and the Peekr SDK's /v1/spans) is masked or tokenised
before it is stored: the API, the trace page and a golden-set export never see it."""

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.base import make_key
from traces import lean, privacy
from traces.models import LogEvent, Span, Trace
from traces.redact import id_token, token

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "otlp"
EMAIL, CARD, SSN, PHONE = "jane.doe@example.com", "4111 1111 1111 1111", "123-45-6789", "+1 415 555 0132"
QUESTION = f"I am {EMAIL}, card {CARD}, SSN {SSN}, phone {PHONE}. What is the capital of France?"
ANSWER = f"Paris. I will write to {EMAIL}."
RAW = (EMAIL, CARD, SSN, "user-7")


def otlp_fixture(name: str, trace_id: str, span_id: str) -> bytes:
    """A recorded export with PII injected into the user's question and the answer, under fresh ids."""
    text = (FIXTURES / name).read_text()
    text = text.replace("What is the capital of France?", QUESTION.replace('"', '\\"'))
    text = text.replace("Paris is the capital of France. It has been the capital since 987.", ANSWER)
    body = json.loads(text)
    for rs in body.get("resourceSpans", []):
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                span["traceId"], span["spanId"] = trace_id, span_id
                span["attributes"] += [
                    {"key": "user.id", "value": {"stringValue": "user-7"}},
                    {"key": "app.customer", "value": {"kvlistValue": {"values": [
                        {"key": "contact", "value": {"stringValue": f"ssn {SSN} / {EMAIL}"}}]}}},
                ]  # fmt: skip
    for rl in body.get("resourceLogs", []):
        for sl in rl["scopeLogs"]:
            for record in sl["logRecords"]:
                record["traceId"], record["spanId"] = trace_id, span_id
    return json.dumps(body).encode()


def post_otlp(client, path: str, body: bytes, key: str):
    return client.post(path, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def api_trace(client, project, trace_id: str) -> dict:
    resp = client.get(f"/api/v1/traces/{trace_id}", HTTP_AUTHORIZATION=f"Bearer {make_key(project, 'read')}")
    assert resp.status_code == 200
    return resp.json()


def assert_clean(text: str) -> None:
    for raw in RAW:
        assert raw not in text
    assert "4111111111111111" not in text and "jane.doe" not in text


@pytest.mark.django_db
def test_an_otlp_export_is_masked_before_it_is_stored_and_shown(client, owner_client, project, api_key):
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    resp = post_otlp(client, "/v1/traces", otlp_fixture("genai-openai__chat.json", trace_id, span_id), api_key)
    assert resp.status_code == 200

    span = Span.objects.get(project=project, span_id=span_id)
    stored = json.dumps(
        [span.input_text, span.output_text, span.input_messages, span.output_messages, span.attributes, span.events]
    )
    assert_clean(stored)
    assert "[EMAIL]" in span.output_text and "[CARD]" in stored and "[SSN]" in stored
    assert PHONE in stored  # phones are kept by default
    assert span.redactions == {"email": 1, "credit_card": 1, "ssn": 1}  # distinct values, wherever they were
    key = privacy.policy_for(project).key
    assert span.user_id == id_token(key, "user", "user-7")
    assert lean.raw_attributes(span)["user.id"] == span.user_id  # the raw id is not left in the attributes either
    assert Trace.objects.get(project=project, trace_id=trace_id).user_id == span.user_id

    data = api_trace(client, project, trace_id)
    assert_clean(json.dumps(data))
    assert data["spans"][0]["redactions"] == span.redactions
    assert data["user_id"].startswith("u_")

    page = owner_client.get(f"/p/{project.pk}/traces/{trace_id}")
    assert page.status_code == 200
    html = page.content.decode()
    assert_clean(html)
    assert "[EMAIL]" in html and "Redacted" in html and span.user_id[:20] in html


@pytest.mark.django_db
def test_genai_log_records_are_redacted_before_they_are_stored_and_merged(client, project, api_key):
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    logs = otlp_fixture("genai-openai-events__chat.logs.json", trace_id, span_id)
    assert post_otlp(client, "/v1/logs", logs, api_key).status_code == 200
    assert EMAIL in logs.decode()
    stored = json.dumps([[e.attributes, e.body] for e in LogEvent.objects.filter(project=project)])
    assert "[EMAIL]" in stored and EMAIL not in stored and CARD not in stored


@pytest.mark.django_db
def test_tokenise_gives_the_same_token_for_the_same_address_across_traces(client, project, api_key):
    admin = make_key(project, "admin")
    settings = {"actions": {"email": "tokenise", "phone": "mask", "credit_card": "tokenise", "ssn": "mask"}}
    resp = client.put(
        f"/api/v1/projects/{project.pk}/privacy", settings, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {admin}",
    )  # fmt: skip
    assert resp.status_code == 200, resp.content
    ids = []
    for _ in range(2):
        trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        body = otlp_fixture("genai-openai__chat.json", trace_id, span_id)
        assert post_otlp(client, "/v1/traces", body, api_key).status_code == 200
        ids.append(trace_id)
    key = privacy.policy_for(project).key
    expected = f"[EMAIL:{token(key, 'email', EMAIL)}]"
    for trace_id in ids:
        data = api_trace(client, project, trace_id)
        text = json.dumps(data)
        assert_clean(text)
        assert PHONE not in text and "[PHONE]" in text
        assert data["spans"][0]["output"] == f"Paris. I will write to {expected}."
        assert f"[CARD:{token(key, 'credit_card', CARD)}]" in text


def sdk_span(trace_id: str, **attributes) -> dict:
    start = time.time() - 5
    return {
        "name": "openai.chat.completions.create",
        "trace_id": trace_id,
        "span_id": uuid.uuid4().hex,
        "parent_id": None,
        "start_time": start,
        "end_time": start + 1.0,
        "attributes": {"model": "gpt-4o-mini", "input": QUESTION, "output": ANSWER, "user_id": "user-7",
                       "tool": {"name": "crm_lookup", "arguments": {"email": EMAIL}, "result": f"SSN {SSN}"},
                       **attributes},
        "status": "ok",
        "tenant_id": None,
        "retention_class": None,
        "duration_ms": 1000.0,
    }  # fmt: skip


@pytest.mark.django_db
def test_a_peekr_sdk_span_is_masked_before_it_is_stored(client, owner_client, project, api_key):
    trace_id = uuid.uuid4().hex
    resp = client.post(
        "/v1/spans", data=json.dumps({"spans": [sdk_span(trace_id, note=f"card {CARD}")]}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )  # fmt: skip
    assert resp.status_code == 200 and resp.json()["accepted"] == 1
    span = Span.objects.get(project=project, trace__trace_id=trace_id)
    assert_clean(json.dumps([span.input_text, span.output_text, span.tool_arguments, span.tool_result,
                             span.attributes, span.user_id]))  # fmt: skip
    assert span.input_text.startswith("I am [EMAIL], card [CARD], SSN [SSN]")
    assert span.redactions == {"email": 1, "credit_card": 1, "ssn": 1}
    assert_clean(json.dumps(api_trace(client, project, trace_id)))
    assert_clean(owner_client.get(f"/p/{project.pk}/traces/{trace_id}").content.decode())


@pytest.mark.django_db
def test_a_promoted_trace_exports_only_what_was_stored(client, project, api_key):
    from annotations.exporters import cases_to_jsonl
    from annotations.services import golden_items_promote, golden_set_create

    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    post_otlp(client, "/v1/traces", otlp_fixture("genai-openai__chat.json", trace_id, span_id), api_key)
    golden = golden_set_create(project=project, name="privacy")
    version = golden_items_promote(
        golden_set=golden, items_or_traces=[Trace.objects.get(project=project, trace_id=trace_id)], group=False
    )
    exported = cases_to_jsonl([item.as_case() for item in version.items.all()])
    assert "[EMAIL]" in exported
    assert_clean(exported)
