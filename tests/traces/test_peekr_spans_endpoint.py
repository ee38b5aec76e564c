import json
import time
import uuid

import pytest

from traces.models import Span


def sdk_span(**overrides) -> dict:
    """One span exactly as the Peekr SDK's HTTPExporter serialises it (Span.to_dict())."""
    start = time.time() - 5
    span = {
        "name": "openai.chat.completions.create",
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex,
        "parent_id": None,
        "start_time": start,
        "end_time": start + 1.25,
        "attributes": {"model": "gpt-4o-mini", "input": "hi", "output": "hello", "tokens_input": 3, "tokens_output": 2},
        "status": "ok",
        "tenant_id": None,
        "retention_class": None,
        "duration_ms": 1250.0,
    }
    span.update(overrides)
    return span


def post(client, body, key):
    return client.post(
        "/v1/spans", data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


@pytest.mark.django_db
def test_it_stores_sdk_spans(client, project, api_key):
    span = sdk_span()
    resp = post(client, {"spans": [span]}, api_key)

    assert resp.status_code == 200
    assert resp.json() == {"accepted": 1, "rejected": []}
    stored = Span.objects.get(project=project, span_id=span["span_id"])
    assert stored.kind == "llm" and stored.model == "gpt-4o-mini"
    assert stored.duration_ms == pytest.approx(1250.0)
    assert (stored.input_tokens, stored.output_tokens) == (3, 2)


@pytest.mark.django_db
def test_bad_items_are_rejected_with_a_reason_and_the_rest_stored(client, project, api_key):
    good = sdk_span()
    no_id = sdk_span(span_id=None)
    backwards = sdk_span(end_time=good["start_time"] - 10)

    resp = post(client, {"spans": [good, no_id, backwards, "not a span"]}, api_key)

    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3]
    assert all(r["reason"] for r in body["rejected"])
    assert list(Span.objects.filter(project=project).values_list("span_id", flat=True)) == [good["span_id"]]


@pytest.mark.django_db
def test_an_open_span_re_sent_with_its_end_updates_the_row(client, project, api_key):
    span = sdk_span(end_time=None, duration_ms=None)
    post(client, {"spans": [span]}, api_key)
    assert Span.objects.get(span_id=span["span_id"]).end_time is None

    span.update(end_time=span["start_time"] + 2, duration_ms=2000.0, status="error")
    post(client, {"spans": [span]}, api_key)
    post(client, {"spans": [span]}, api_key)

    stored = Span.objects.get(project=project, span_id=span["span_id"])
    assert stored.duration_ms == pytest.approx(2000.0)
    assert stored.status == "error"
    assert Span.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_the_body_must_hold_a_spans_list(client, api_key):
    assert post(client, {"items": []}, api_key).status_code == 400
    resp = client.post(
        "/v1/spans", data=b"{oops", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["error"]


@pytest.mark.django_db
def test_it_needs_a_key(client, project):
    assert post(client, {"spans": [sdk_span()]}, "wrong").status_code == 401
    assert Span.objects.count() == 0


@pytest.mark.django_db
def test_compliance_packs_are_the_projects_own_and_none_by_default(client, project, api_key):
    resp = client.get("/v1/compliance", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert resp.status_code == 200
    assert resp.json() == {"packs": [], "rules": []}

    project.compliance = {"packs": [{"name": "HIPAA", "action": "warn"}], "rules": []}
    project.save()
    assert client.get("/v1/compliance", HTTP_AUTHORIZATION=f"Bearer {api_key}").json()["packs"][0]["name"] == "HIPAA"
    assert client.get("/v1/compliance").status_code == 401
