"""Modes in the Evaluations pages: a rule created in the UI starts in shadow; the rule's page shows each
evaluator's mode, disables "blocking" for an uncalibrated judge with the reason, changes modes (recorded), and
for a shadow rule shows what it would have flagged in the last 7 days; the trace page shows shadow scores apart."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from evals import services
from evals.models import EvalRule, ModeChange, Score
from tests.base import make_trace, make_user
from tests.evals.modes_helpers import calibrate_judge
from traces.models import Membership, Role, Span, Trace


@pytest.fixture(autouse=True)
def judge_configured(settings):
    settings.PEEKR_JUDGE_BASE_URL, settings.PEEKR_JUDGE_MODEL = "http://127.0.0.1:9/v1", "judge-model"


def page(client, project, rule) -> str:
    response = client.get(reverse("evals:rule_detail", args=[project.pk, rule.pk]))
    assert response.status_code == 200
    return response.content.decode()


def set_mode(client, project, rule, mode, evaluator=""):
    url = reverse("evals:rule_mode", args=[project.pk, rule.pk])
    return client.post(url, {"mode": mode, "evaluator": evaluator}, follow=True)


def blocking_button(html: str, evaluator: str) -> str:
    row = re.search(rf'<tr data-evaluator="{evaluator}">(.*?)</tr>', html, re.S).group(1)
    return re.search(r'<button[^>]*data-mode="blocking"[^>]*>', row).group(0)


def failed_shadow_score(rule, *, name: str, age: timedelta = timedelta(hours=1)) -> Trace:
    trace_id, _ = make_trace(rule.project, n_llm=1, name=name)
    trace = Trace.objects.get(trace_id=trace_id)
    span = Span.objects.get(trace=trace, kind="llm")
    Score.objects.create(project_id=trace.project_id, trace=trace, span=span, target_key=f"span:{span.pk}",
                         evaluator="pii", rule=rule, source="rule", status="done", passed=False, value=0.0,
                         mode="shadow", created_at=timezone.now() - age)  # fmt: skip
    services.span_write_back(span_pks=[span.pk])
    return trace


@pytest.mark.django_db
def test_a_rule_created_in_the_ui_starts_in_shadow(owner_client, project, owner):
    data = {"name": "no PII", "target": "span", "evaluators": ["pii"], "sample_rate": "100"}
    response = owner_client.post(reverse("evals:rule_create", args=[project.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = EvalRule.objects.get(name="no PII")
    assert rule.mode == "shadow"
    (created,) = ModeChange.objects.filter(rule=rule)
    assert (created.from_mode, created.to_mode, created.changed_by, created.actor) == ("", "shadow", owner, "owner")
    assert 'data-rule-mode="shadow"' in page(owner_client, project, rule)


@pytest.mark.django_db
def test_an_uncalibrated_judge_cannot_be_made_blocking_and_the_page_says_why(owner_client, project, owner):
    rule = services.eval_rule_create(project=project, name="faithful", evaluators=["faithfulness", "pii"])

    html = page(owner_client, project, rule)
    assert "disabled" in blocking_button(html, "faithfulness")
    assert "disabled" not in blocking_button(html, "pii")  # a rule evaluator may block at once
    assert "Cannot block yet: faithfulness is not calibrated enough to block (0 labelled items" in html

    refused = set_mode(owner_client, project, rule, "blocking", "faithfulness").content.decode()
    assert "Faithfulness is not calibrated enough to block (0 labelled items, no agreement yet)" in refused
    rule.refresh_from_db()
    assert rule.mode_of("faithfulness") == "shadow"

    set_mode(owner_client, project, rule, "blocking", "pii")
    rule.refresh_from_db()
    assert rule.mode_of("pii") == "blocking"
    change = ModeChange.objects.filter(rule=rule).latest("pk")
    assert (change.evaluator, change.from_mode, change.to_mode, change.changed_by) == ("pii", "shadow", "blocking",
                                                                                       owner)  # fmt: skip


@pytest.mark.django_db
def test_a_calibrated_judge_can_be_made_blocking_from_the_page(owner_client, project, owner):
    rule = services.eval_rule_create(project=project, name="faithful", evaluators=["faithfulness"])
    calibrate_judge(project, owner, n=50, agree=45)

    html = page(owner_client, project, rule)
    assert "disabled" not in blocking_button(html, "faithfulness")
    assert "90% <span" in html  # agreement with the reviewers, beside the evaluator

    set_mode(owner_client, project, rule, "blocking", "faithfulness")
    rule.refresh_from_db()
    assert rule.mode_of("faithfulness") == "blocking"
    change = ModeChange.objects.filter(rule=rule).latest("pk")
    assert (change.calibration_n, change.calibration_agreement, change.changed_by) == (50, pytest.approx(0.9), owner)
    assert "Mode changes (2)" in page(owner_client, project, rule)


@pytest.mark.django_db
def test_a_shadow_rule_shows_what_it_would_have_flagged_in_the_last_seven_days(owner_client, project):
    rule = services.eval_rule_create(project=project, name="pii shadow", evaluators=["pii"])
    recent = [failed_shadow_score(rule, name=f"leaky {i}") for i in range(3)]
    failed_shadow_score(rule, name="long ago", age=timedelta(days=8))

    html = page(owner_client, project, rule)

    assert re.search(r'<strong class="shadow-flagged">3</strong> traces failed a shadow evaluator \(pii 3\)', html)
    for trace in recent:
        assert reverse("traces:trace_detail", args=[project.pk, trace.trace_id]) in html
    assert "long ago" not in html.split("shadow-examples")[1].split("</ul>")[0]
    advisory = services.eval_rule_create(project=project, name="pii live", evaluators=["pii"], mode="advisory")
    assert "shadow-flagged" not in page(owner_client, project, advisory)


@pytest.mark.django_db
def test_the_trace_page_shows_shadow_scores_apart(owner_client, project):
    rule = services.eval_rule_create(project=project, name="pii shadow", evaluators=["pii"])
    trace = failed_shadow_score(rule, name="leaky")
    span = Span.objects.get(trace=trace, kind="llm")

    html = owner_client.get(
        reverse("traces:trace_detail", args=[project.pk, trace.trace_id]) + f"?span={span.span_id}"
    ).content.decode()

    assert "shadow ✗ 1" in html  # the waterfall's own badge for shadow scores, never the failed badge
    assert "✗ 1</span>" not in html.replace("shadow ✗ 1</span>", "")
    assert re.search(r'From Peekr <span class="badge mode-shadow">shadow</span>', html)
    assert 'class="eval-scores shadow"' in html


@pytest.mark.django_db
def test_only_editors_change_modes(client, project):
    rule = services.eval_rule_create(project=project, name="pii", evaluators=["pii"])
    viewer = make_user("viewer")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert "data-mode=" not in page(client, project, rule)
    assert client.post(reverse("evals:rule_mode", args=[project.pk, rule.pk]), {"mode": "blocking"}).status_code == 404
    client.force_login(make_user("stranger"))
    assert client.post(reverse("evals:rule_mode", args=[project.pk, rule.pk]), {"mode": "blocking"}).status_code == 404
    rule.refresh_from_db()
    assert rule.mode == "shadow"


@pytest.mark.django_db
def test_the_rule_list_shows_modes_without_a_query_per_rule_for_them(owner_client, project, django_assert_num_queries):
    url = reverse("evals:rule_list", args=[project.pk])
    services.eval_rule_create(project=project, name="r0", evaluators=["pii"])
    owner_client.get(url)  # the first request's one-off queries (the session's) are not the page's
    with CaptureQueriesContext(connection) as one:
        owner_client.get(url)
    for i in range(1, 4):
        services.eval_rule_create(project=project, name=f"r{i}", evaluators=["pii"], mode="blocking")
    per_rule = 2  # the row's executions (2 aggregates); a rule without a judge has no cost projection
    with django_assert_num_queries(len(one.captured_queries) + 3 * per_rule):
        html = owner_client.get(url).content.decode()
    # the three made blocking, and the built-in rule (deterministic checks: blocking from the start)
    assert html.count('class="badge mode-blocking"') == 4 and html.count('class="badge mode-shadow"') == 1
