"""The modes API: a rule's mode in its schemas, POST /eval-rules/{id}/mode (409 for an uncalibrated judge made
blocking), the recorded changes, and each score's mode."""

from __future__ import annotations

import pytest

from evals.evaluators.types import EvalResult
from evals.models import EvalRule, ModeChange
from evals.services import score_record
from tests.base import make_trace
from tests.evals.modes_helpers import calibrate_judge
from traces.models import Trace


def call(client, method, url, key, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    return getattr(client, method)(url, **kwargs)


@pytest.fixture
def judge_settings(settings):
    settings.PEEKR_JUDGE_BASE_URL, settings.PEEKR_JUDGE_MODEL = "http://127.0.0.1:9/v1", "judge-model"


@pytest.mark.django_db
def test_a_rule_created_through_the_api_starts_in_shadow_unless_asked(client, project, api_key):
    shadow = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "pii", "evaluators": ["pii"]}).json()
    assert (shadow["mode"], shadow["modes"], shadow["evaluator_modes"]) == ("shadow", {"pii": "shadow"}, {})
    body = {"name": "json", "evaluators": ["json_valid", "pii"], "mode": "advisory",
            "evaluator_modes": {"json_valid": "blocking"}}  # fmt: skip
    asked = call(client, "post", "/api/v1/eval-rules", api_key, body)
    assert asked.status_code == 201, asked.content
    assert asked.json()["modes"] == {"json_valid": "blocking", "pii": "advisory"}
    listed = {r["name"]: r["mode"] for r in call(client, "get", "/api/v1/eval-rules", api_key).json()}
    # the built-in rule holds deterministic checks only: blocking from the start, as it gated peekr_regress before
    assert listed == {"Built-in rules": "blocking", "pii": "shadow", "json": "advisory"}
    created = ModeChange.objects.filter(rule_id=asked.json()["id"]).order_by("evaluator")
    assert [(c.evaluator, c.from_mode, c.to_mode, c.actor) for c in created] == [
        ("", "", "advisory", "API key"),
        ("json_valid", "", "blocking", "API key"),
    ]


@pytest.mark.django_db
def test_a_deterministic_evaluator_may_block_at_once_and_every_change_is_recorded(client, project, api_key, owner):
    rule = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "pii", "evaluators": ["pii"]}).json()
    url = f"/api/v1/eval-rules/{rule['id']}/mode"

    blocked = call(client, "post", url, api_key, {"mode": "blocking", "by": owner.username})
    assert blocked.status_code == 200, blocked.content
    assert blocked.json()["mode"] == "blocking"
    assert call(client, "post", url, api_key, {"mode": "advisory", "evaluator": "pii"}).json()["modes"] == {
        "pii": "advisory"
    }

    changes = call(client, "get", f"/api/v1/eval-rules/{rule['id']}/mode-changes", api_key).json()
    assert [(c["evaluator"], c["from_mode"], c["to_mode"], c["by"]) for c in changes] == [
        ("pii", "blocking", "advisory", "API key"),  # newest first; the override moved from the rule's mode
        ("", "shadow", "blocking", owner.username),
        ("", "", "shadow", "API key"),
    ]
    assert changes[0]["calibration_n"] is None  # a rule evaluator has no calibration to record
    assert EvalRule.objects.get(pk=rule["id"]).evaluator_modes == {"pii": "advisory"}


@pytest.mark.django_db
def test_an_uncalibrated_judge_is_refused_blocking_with_409_and_the_reason(
    client, project, api_key, judge_settings, owner
):
    rule = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "f", "evaluators": ["faithfulness"]}).json()
    url = f"/api/v1/eval-rules/{rule['id']}/mode"
    calibrate_judge(project, owner, n=49, agree=49)  # one item short, all agreeing

    refused = call(client, "post", url, api_key, {"mode": "blocking", "evaluator": "faithfulness"})

    assert refused.status_code == 409, refused.content
    assert refused.json()["code"] == "conflict"
    assert (
        "faithfulness is not calibrated enough to block (49 labelled items, 100.0% agreement)"
        in refused.json()["detail"]
    )
    assert "1 more labelled item" in refused.json()["detail"]
    assert call(client, "post", url, api_key, {"mode": "blocking"}).status_code == 409  # the whole rule, too
    assert EvalRule.objects.get(pk=rule["id"]).mode == "shadow"
    assert ModeChange.objects.filter(rule_id=rule["id"]).count() == 1  # only its creation
    creating = {"name": "f2", "evaluators": ["faithfulness"], "mode": "blocking"}
    assert call(client, "post", "/api/v1/eval-rules", api_key, creating).status_code == 409
    # A judge added to a blocking rule would block uncalibrated: refused the same way.
    blocking = call(client, "post", "/api/v1/eval-rules", api_key,
                    {"name": "b", "evaluators": ["pii"], "mode": "blocking"}).json()  # fmt: skip
    added = call(client, "patch", f"/api/v1/eval-rules/{blocking['id']}", api_key,
                 {"evaluators": ["pii", "faithfulness"]})  # fmt: skip
    assert added.status_code == 409 and EvalRule.objects.get(pk=blocking["id"]).evaluators == ["pii"]


@pytest.mark.django_db
def test_a_calibrated_judge_may_block_and_its_calibration_is_recorded(client, project, api_key, judge_settings, owner):
    rule = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "f", "evaluators": ["faithfulness"]}).json()
    calibrate_judge(project, owner, n=50, agree=43)  # 86 % agreement over 50 labelled items

    url = f"/api/v1/eval-rules/{rule['id']}/mode"
    accepted = call(client, "post", url, api_key, {"mode": "blocking", "evaluator": "faithfulness"})

    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["modes"] == {"faithfulness": "blocking"}
    (change,) = call(client, "get", f"/api/v1/eval-rules/{rule['id']}/mode-changes?limit=1", api_key).json()
    assert (change["from_mode"], change["to_mode"], change["calibration_n"]) == ("shadow", "blocking", 50)
    assert change["calibration_agreement"] == pytest.approx(0.86)


@pytest.mark.django_db
def test_bad_requests_and_other_projects(client, project, api_key, other_project_and_key):
    rule = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "pii", "evaluators": ["pii"]}).json()
    url = f"/api/v1/eval-rules/{rule['id']}/mode"
    unknown = call(client, "post", url, api_key, {"mode": "blocking", "evaluator": "faithfulness"})
    assert unknown.status_code == 400 and "no evaluator 'faithfulness'" in unknown.json()["detail"]
    assert call(client, "post", url, api_key, {"mode": "loud"}).status_code == 422
    assert call(client, "post", url, api_key, {"mode": "blocking", "by": "nobody"}).status_code == 404
    patched = call(client, "patch", f"/api/v1/eval-rules/{rule['id']}", api_key, {"mode": "blocking"})
    assert patched.status_code == 400 and "/mode" in patched.json()["detail"]
    _, other_key = other_project_and_key
    assert call(client, "post", url, other_key, {"mode": "blocking"}).status_code == 404
    assert call(client, "get", f"/api/v1/eval-rules/{rule['id']}/mode-changes", other_key).status_code == 404


@pytest.mark.django_db
def test_scores_carry_the_mode_they_were_scored_in(client, project, api_key):
    rule = call(client, "post", "/api/v1/eval-rules", api_key, {"name": "pii", "evaluators": ["pii"]}).json()
    trace_id, _ = make_trace(project, n_llm=1)
    trace = Trace.objects.get(trace_id=trace_id)
    score_record(trace=trace, span=None, evaluator="pii", result=EvalResult(status="error", error="boom"),
                 rule=EvalRule.objects.get(pk=rule["id"]), source="judge")  # fmt: skip
    (letter,) = call(client, "get", "/api/v1/dead-letters", api_key).json()
    assert letter["mode"] == "shadow"
    call(client, "post", f"/api/v1/eval-rules/{rule['id']}/mode", api_key, {"mode": "advisory"})
    (letter,) = call(client, "get", "/api/v1/dead-letters", api_key).json()
    assert letter["mode"] == "shadow"  # copied when scored: changing the rule rewrites no history
