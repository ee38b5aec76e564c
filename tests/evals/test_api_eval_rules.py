import pytest

from evals.models import EvalRule
from tests.base import make_raw_span
from traces.services import spans_ingest


def call(client, method, url, key, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    return getattr(client, method)(url, **kwargs)


@pytest.mark.django_db
def test_a_new_project_starts_with_the_built_in_rules_on_all_traffic(client, project, api_key):
    rules = call(client, "get", "/api/v1/eval-rules", api_key).json()
    assert len(rules) == 1
    builtin = rules[0]
    assert builtin["is_builtin"] and builtin["sample_rate"] == 1.0
    assert {"pii", "json_valid", "non_empty", "error"} <= set(builtin["evaluators"])


@pytest.mark.django_db
def test_create_list_update_pause_and_delete_a_rule(client, project, api_key, settings):
    settings.PEEKR_JUDGE_BASE_URL, settings.PEEKR_JUDGE_MODEL = "http://127.0.0.1:9/v1", "judge-model"
    body = {"name": "faithful answers", "evaluators": ["faithfulness"], "filter": {"kind": "llm"}, "sample_rate": 0.1}

    created = call(client, "post", "/api/v1/eval-rules", api_key, body)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["evaluators"] == ["faithfulness"] and rule["sample_rate"] == 0.1 and rule["status"] == "active"
    assert rule["judge_missing"] == ""
    assert len(call(client, "get", "/api/v1/eval-rules", api_key).json()) == 2

    url = f"/api/v1/eval-rules/{rule['id']}"
    patched = call(client, "patch", url, api_key, {"sample_rate": 0.25, "triggers": ["thumbs_down", "error"]})
    assert patched.status_code == 200 and patched.json()["sample_rate"] == 0.25
    assert call(client, "patch", url, api_key, {"status": "paused"}).json()["status"] == "paused"
    assert EvalRule.objects.get(pk=rule["id"]).status == "paused"
    assert call(client, "patch", url, api_key, {"status": "active"}).json()["status"] == "active"

    assert call(client, "delete", url, api_key).status_code == 204
    assert call(client, "get", url, api_key).status_code == 404


@pytest.mark.django_db
def test_bad_rules_are_refused_with_a_reason(client, project, api_key):
    resp = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "x", "evaluators": ["vibes"]})
    assert resp.status_code == 400 and "unknown evaluator" in resp.json()["detail"]
    resp = call(
        client, "post", "/api/v1/eval-rules", api_key, {"name": "x", "evaluators": ["pii"], "triggers": ["moon"]}
    )
    assert resp.status_code == 400 and "unknown trigger" in resp.json()["detail"]
    resp = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "x", "evaluators": ["pii"], "sample_rate": 2})
    assert resp.status_code == 422


@pytest.mark.django_db
def test_a_judge_may_not_judge_its_own_model(client, project, api_key):
    spans_ingest(
        project=project,
        raws=[make_raw_span(attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.operation.name": "chat"})],
    )
    body = {"name": "self", "evaluators": ["faithfulness"], "judge_model": "gpt-4o"}

    resp = call(client, "post", "/api/v1/eval-rules", api_key, body)

    assert resp.status_code == 400
    assert "may not judge its own output" in resp.json()["detail"]


@pytest.mark.django_db
def test_a_judge_rule_without_a_judge_says_so(client, project, api_key, settings):
    settings.PEEKR_JUDGE_BASE_URL = settings.PEEKR_JUDGE_MODEL = ""
    rule = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "j", "evaluators": ["faithfulness"]}).json()
    assert "No judge configured" in rule["judge_missing"]


@pytest.mark.django_db
def test_another_projects_rule_is_404(client, project, api_key, other_project_and_key):
    rule = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "mine", "evaluators": ["pii"]}).json()
    _, other_key = other_project_and_key
    assert call(client, "get", f"/api/v1/eval-rules/{rule['id']}", other_key).status_code == 404
    assert call(client, "patch", f"/api/v1/eval-rules/{rule['id']}", other_key, {"sample_rate": 0}).status_code == 404
    assert call(client, "delete", f"/api/v1/eval-rules/{rule['id']}", other_key).status_code == 404
    assert EvalRule.objects.filter(pk=rule["id"]).exists()
