"""Client mistakes on the JSON API: each answers a 4xx with the one error body, never a 500, and changes nothing."""

import json

import pytest

from evals import services as evals
from evals.models import EvalRule
from tests.base import make_trace


def get(client, key, url, **params):
    return client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {key}")


def send(client, key, method, url, body):
    kwargs = {"content_type": "application/json", "HTTP_AUTHORIZATION": f"Bearer {key}"}
    return getattr(client, method)(url, body, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/v1/dead-letters", "/api/v1/regression-runs", "/api/v1/triage", "/api/v1/traces", "/api/v1/insights"]
)
def test_a_negative_limit_is_422_with_the_field_named(client, api_key, url):
    response = get(client, api_key, url, limit=-5)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and body["errors"][0]["loc"] == ["query", "limit"]


@pytest.mark.django_db
def test_a_nul_in_a_filter_is_422(client, project, api_key):
    make_trace(project)
    response = get(client, api_key, "/api/v1/traces", model="gpt\x00")
    assert response.status_code == 422 and "model" in response.json()["detail"]
    assert get(client, api_key, "/api/v1/traces/ab\x00cd").status_code == 422
    assert get(client, api_key, "/api/v1/traces", start_before="-1.4e-45").status_code == 422  # not a Unix time
    assert get(client, api_key, "/api/v1/traces", start_after="2026-01-01T00:00:00-22:20").status_code == 200


@pytest.mark.django_db
def test_a_nul_in_free_form_json_is_422_and_nothing_is_stored(client, api_key):
    body = {"name": "r", "evaluators": ["non_empty"], "filter": {"name": "chat\u0000"}}
    response = send(client, api_key, "post", "/api/v1/eval-rules", body)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"
    assert not EvalRule.objects.filter(name="r").exists()


@pytest.mark.django_db
def test_null_in_a_rule_patch_is_422_and_the_rule_is_unchanged(client, project, api_key):
    rule = evals.eval_rule_create(project=project, name="kept", evaluators=["non_empty"])
    response = send(client, api_key, "patch", f"/api/v1/eval-rules/{rule.pk}", {"name": None, "evaluators": None})
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == {
        ("body", "payload", "name"), ("body", "payload", "evaluators")
    }  # fmt: skip
    rule.refresh_from_db()
    assert rule.name == "kept" and rule.evaluators == ["non_empty"]
    cleared = send(client, api_key, "patch", f"/api/v1/eval-rules/{rule.pk}", {"daily_cost_cap": None})
    assert cleared.status_code == 200 and cleared.json()["daily_cost_cap"] is None  # null is a value here


@pytest.mark.django_db
def test_a_huge_id_is_422_not_a_database_overflow(client, api_key):
    assert get(client, api_key, f"/api/v1/eval-rules/{2**70}").status_code == 422


@pytest.mark.django_db
def test_a_refused_value_and_a_missing_row_answer_the_same_body(client, api_key):
    refused = send(client, api_key, "post", "/api/v1/eval-rules", {"name": "x", "evaluators": ["nope"]})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    assert "unknown evaluator" in refused.json()["detail"]
    missing = get(client, api_key, "/api/v1/eval-rules/12345")
    assert missing.status_code == 404 and set(missing.json()) == {"code", "detail", "errors"}
    unauthorized = client.get("/api/v1/eval-rules")
    assert unauthorized.status_code == 401 and unauthorized.json()["code"] == "unauthorized"
    bad_json = client.post(
        "/api/v1/guard", "{", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "bad_request"


@pytest.mark.parametrize("body", ["[]", "[1]", '"x"', "3", "null"])
@pytest.mark.parametrize("method, path", [("put", "/api/v1/routing-policy"), ("patch", "/api/v1/monitors/{monitor}")])
def test_a_body_that_is_not_an_object_is_422_not_an_empty_change(client, project, api_key, method, path, body):
    from alerts.models import Monitor

    monitor = Monitor.objects.filter(project=project).first()  # a built-in monitor of the new project
    url = path.format(monitor=monitor.pk)
    resp = getattr(client, method)(
        url, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert resp.status_code == 422
    assert "must be a JSON object" in resp.json()["detail"]


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("put", "/api/v1/routing-policy", {"rephrase_threshold": True}),
        ("put", "/api/v1/routing-policy", {"rephrase_window_seconds": False}),
        ("patch", "/api/v1/monitors/{monitor}", {"page_sigma": True}),
    ],
)
def test_true_or_false_for_a_number_is_422(client, project, api_key, method, path, body):
    from alerts.models import Monitor

    monitor = Monitor.objects.filter(project=project).first()
    resp = send(client, api_key, method, path.format(monitor=monitor.pk), body)
    assert resp.status_code == 422
    assert "a number, not true or false" in json.dumps(resp.json())
