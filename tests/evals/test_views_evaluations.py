"""The Evaluations pages (/p/<id>/evals, a rule's page, its form, pause/resume/delete) and the scores they put on
the trace explorer: the trace list's Scores column and filter, the waterfall badges, the judge's claims."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from django.urls import reverse
from django.utils.html import escape

from evals import services
from evals.cost import Projection
from evals.models import EvalRule, JudgeCall, Score
from evals.projection import rule_projection
from evals.views import about_usd, compact_count, projection_text
from tests.base import make_trace, make_user
from traces.models import Membership, Role, Span, Trace

HTMX = {"HX-Request": "true"}
CLAIMS = [
    {"claim": "Paris is the capital of France.", "verdict": "supported", "reason": "Stated in document d1."},
    {"claim": "Paris has 40 million inhabitants.", "verdict": "unsupported", "reason": "No document gives a figure."},
]


@pytest.fixture(autouse=True)
def judge_configured(settings):
    settings.PEEKR_JUDGE_BASE_URL = "http://127.0.0.1:9/v1"
    settings.PEEKR_JUDGE_MODEL = "judge-model"
    settings.PEEKR_JUDGE_API_KEY = "sk-test"


def stored(project, name="answer", **kw) -> tuple[Trace, list[Span]]:
    trace_id, _ = make_trace(project, name=name, **kw)
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    return trace, list(Span.objects.filter(trace=trace).order_by("start_time", "pk"))


def make_score(trace, span, evaluator, *, status="done", passed=True, value=None, rule=None, source="judge", **kw):
    score = Score.objects.create(
        project_id=trace.project_id,
        trace=trace,
        span=span,
        target_key=f"span:{span.pk}" if span else f"trace:{trace.pk}",
        evaluator=evaluator,
        rule=rule,
        source=source,
        status=status,
        passed=passed if status == "done" else None,
        value=(1.0 if passed else 0.0) if value is None and status == "done" else value,
        **kw,
    )
    if span is not None:
        services.span_write_back(span_pks=[span.pk])
    return score


def member(project, role):
    user = make_user()
    Membership.objects.create(project=project, user=user, role=role)
    return user


def rule_url(project, rule, action=""):
    if action:
        return reverse(f"evals:rule_{action}", args=[project.pk, rule.pk])
    return reverse("evals:rule_detail", args=[project.pk, rule.pk])


def list_url(project):
    return reverse("evals:rule_list", args=[project.pk])


def create_url(project):
    return reverse("evals:rule_create", args=[project.pk])


def form_data(**overrides) -> dict:
    data = {
        "name": "RAG faithfulness",
        "target": "span",
        "filter_kind": "llm",
        "filter_name": "chat*",
        "filter_model": "",
        "filter_service": "",
        "filter_tags": "rag, support",
        "evaluators": ["faithfulness", "rubric"],
        "sample_rate": "10",
        "triggers": ["thumbs_down", "error"],
        "judge_model": "",
        "judge_base_url": "",
        "daily_cost_cap": "5",
        "rubric_criteria": "Answers only from the documents and says so when they are silent.",
        "rubric_min": "1",
        "rubric_max": "5",
        "rubric_pass_threshold": "4",
        "allowed_tools": "search_kb, get_order",
        "max_turns": "12",
    }
    data.update(overrides)
    return data


def judge_rule(project, **kw) -> EvalRule:
    fields = {"name": "RAG faithfulness", "evaluators": ["faithfulness"], "sample_rate": 0.5, **kw}
    return services.eval_rule_create(project=project, **fields)


# --- The rule list ---


def test_the_list_shows_each_rule_with_its_executions_pass_rate_and_cost(owner_client, project):
    rule = judge_rule(project, filter={"kind": "llm", "name": "chat*"}, triggers=["thumbs_down"])
    traces = [stored(project, name=f"q{i}") for i in range(7)]  # 1 trace/day over the projection's 7 days
    for (trace, spans), (status, passed) in zip(
        traces, [("done", True), ("done", False), ("pending", None), ("error", None), ("skipped", None)], strict=False
    ):
        make_score(trace, spans[1], "faithfulness", status=status, passed=passed, rule=rule)
    for cost in (0.004, 0.016):
        JudgeCall.objects.create(project=project, rule=rule, model="judge-model", cost=cost, day=date.today())

    response = owner_client.get(list_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(rf'<tr class="rule-row[^"]*" data-rule="{rule.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "RAG faithfulness" in row
    assert "kind llm · name chat*" in row
    assert "50%" in row and "always on: thumbs_down" in row
    for text in ("2 done", "1 pending", "1 error", "1 skipped"):
        assert re.search(text.replace(" ", r"\s+"), row), text
    assert "50%" in row  # pass rate: 1 of 2
    assert "1/2" in row
    assert "$0.0200" in row  # judge cost so far
    # The rule page's projection (evals.projection), in one sentence: the two pages never disagree.
    # (Here: why there is no figure. The sentence with a figure is test_the_projection_reads_like_a_sentence.)
    assert escape(projection_text(rule, rule_projection(rule=rule))) in row
    # The built-in rule is listed too, tagged, with no judge cost.
    builtin = EvalRule.objects.get(project=project, is_builtin=True)
    assert f'data-rule="{builtin.pk}"' in html
    assert "built-in" in html


def test_a_judge_rule_whose_cost_is_unknown_says_why(owner_client, project):
    rule = judge_rule(project)
    rule.judge_model = "a-model-without-a-price"
    rule.save()
    p = rule_projection(rule=rule)
    assert p.monthly is None and p.notes
    assert escape("; ".join(p.notes)) in owner_client.get(list_url(project)).content.decode()


def test_the_projection_reads_like_a_sentence():
    rule = EvalRule(name="r", evaluators=["faithfulness"], sample_rate=0.1)
    projection = Projection(
        judges=["faithfulness"], traces_per_day=100_000.0, selected_share=1.0, judgements_per_day=10_000.0,
        input_tokens=1_000, output_tokens=100, tokens_from="estimate", price=(0.15, 0.6),
        cost_per_judgement=0.01, daily=100.4, monthly=3012.4,
    )  # fmt: skip
    assert projection_text(rule, projection) == "at 10% of 100k/day this rule costs about $3,000/month"
    assert compact_count(2_500_000) == "2.5M"
    assert compact_count(1234) == "1.23k"
    assert about_usd(12.3) == "$12"
    assert about_usd(0.00421) == "$0.0042"
    assert projection_text(EvalRule(evaluators=["pii"], sample_rate=1.0), projection) == ""


def test_without_a_judge_judge_rules_say_so_and_the_page_still_works(owner_client, project, settings):
    settings.PEEKR_JUDGE_BASE_URL = ""
    settings.PEEKR_JUDGE_MODEL = ""
    rule = judge_rule(project)
    html = owner_client.get(list_url(project)).content.decode()
    assert "No LLM judge is configured." in html
    assert "set PEEKR_JUDGE_BASE_URL and PEEKR_JUDGE_MODEL" in html
    assert "Judges skipped: no judge configured." in html
    page = owner_client.get(rule_url(project, rule))
    assert page.status_code == 200
    assert "This rule's judges cannot run." in page.content.decode()


def test_a_rule_paused_by_a_refused_key_says_why(owner_client, project):
    rule = judge_rule(project)
    reason = "judge endpoint refused the key (401 Unauthorized); rule paused: fix PEEKR_JUDGE_API_KEY and resume it"
    services.eval_rule_pause(rule=rule, reason=reason)
    html = owner_client.get(list_url(project)).content.decode()
    assert f"<strong>RAG faithfulness is paused:</strong> {reason}" in html
    assert f'<div class="paused-reason">{reason}</div>' in html
    assert reason in owner_client.get(rule_url(project, rule)).content.decode()


# --- Creating and editing rules through the form ---


def test_a_rule_is_created_through_the_form(owner_client, project):
    response = owner_client.post(create_url(project), form_data())
    rule = EvalRule.objects.get(project=project, name="RAG faithfulness")
    assert response.status_code == 302
    assert response["Location"] == rule_url(project, rule)
    assert rule.target == "span"
    assert rule.filter == {"kind": "llm", "name": "chat*", "tags": ["rag", "support"]}
    assert rule.evaluators == ["faithfulness", "rubric"]
    assert rule.sample_rate == pytest.approx(0.1)
    assert rule.triggers == ["thumbs_down", "error"]
    assert rule.daily_cost_cap == 5.0
    assert rule.config == {
        "rubric": {
            "criteria": "Answers only from the documents and says so when they are silent.",
            "scale": {"min": 1, "max": 5},
            "pass_threshold": 4.0,
        },
        "allowed_tools": ["search_kb", "get_order"],
        "max_turns": 12,
    }
    page = owner_client.get(response["Location"]).content.decode()
    assert "Rule “RAG faithfulness” created." in page
    assert 'value="RAG faithfulness"' in page  # the form shows what was saved


def test_an_unknown_evaluator_cannot_be_picked(owner_client, project):
    response = owner_client.post(create_url(project), form_data(evaluators=["faithfulness", "mind_reader"]))
    assert response.status_code == 200
    assert "Select a valid choice. mind_reader is not one of the available choices." in response.content.decode()
    assert not EvalRule.objects.filter(name="RAG faithfulness").exists()


def test_a_judge_model_may_not_judge_its_own_output(owner_client, project, settings):
    stored(project)  # its chat spans were made by gpt-4o-mini
    response = owner_client.post(create_url(project), form_data(judge_model="gpt-4o-mini"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "produced spans in this project: a model may not judge its own output. Pick another judge model." in html
    assert not EvalRule.objects.filter(name="RAG faithfulness").exists()


def test_the_rubric_judge_needs_criteria_and_a_scale(owner_client, project):
    response = owner_client.post(
        create_url(project), form_data(rubric_criteria="", rubric_min="5", rubric_max="1", rubric_pass_threshold="")
    )
    html = response.content.decode()
    assert "The rubric judge needs criteria." in html
    assert "The scale needs a min below its max." in html
    assert not EvalRule.objects.filter(name="RAG faithfulness").exists()


def test_a_taken_name_is_refused(owner_client, project):
    judge_rule(project)
    response = owner_client.post(create_url(project), form_data())
    assert "A rule named &#x27;RAG faithfulness&#x27; already exists." in response.content.decode()
    assert EvalRule.objects.filter(name="RAG faithfulness").count() == 1


def test_a_rule_is_edited_and_config_the_form_does_not_show_is_kept(owner_client, project):
    schemas = {"extract*": {"type": "object"}}
    rule = judge_rule(project, config={"json_schemas": schemas, "max_turns": 30})
    response = owner_client.post(
        rule_url(project, rule),
        form_data(name="Faithfulness (support)", evaluators=["faithfulness", "pii"], sample_rate="2.5", max_turns=""),
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Faithfulness (support)"
    assert rule.evaluators == ["faithfulness", "pii"]
    assert rule.sample_rate == pytest.approx(0.025)
    assert rule.config["json_schemas"] == schemas
    assert "max_turns" not in rule.config
    assert rule.config["allowed_tools"] == ["search_kb", "get_order"]


def test_an_invalid_edit_changes_nothing(owner_client, project):
    stored(project)
    rule = judge_rule(project)
    response = owner_client.post(rule_url(project, rule), form_data(name="renamed", judge_model="gpt-4o-mini"))
    assert response.status_code == 200
    assert "may not judge its own output" in response.content.decode()
    rule.refresh_from_db()
    assert (rule.name, rule.judge_model) == ("RAG faithfulness", "")


def test_the_rule_page_shows_pass_rates_and_its_latest_scores(owner_client, project):
    rule = judge_rule(project)
    trace, spans = stored(project, name="refund question")
    make_score(trace, spans[1], "faithfulness", passed=False, value=0.5, rule=rule)
    make_score(trace, spans[2], "faithfulness", passed=True, value=1.0, rule=rule)
    html = owner_client.get(rule_url(project, rule)).content.decode()
    assert "Pass rate by evaluator" in html
    assert re.search(r"<td>faithfulness</td>\s*<td class=\"num\">2</td>\s*<td class=\"num\">1</td>\s*"
                     r"<td class=\"num\">50%</td>\s*<td class=\"num\">0.750</td>", html)  # fmt: skip
    trace_url = reverse("traces:trace_detail", args=[project.pk, trace.trace_id])
    assert f'href="{trace_url}?span={spans[1].span_id}">refund question</a>' in html


def test_a_rule_without_scores_shows_empty_states(owner_client, project):
    html = owner_client.get(rule_url(project, judge_rule(project))).content.decode()
    assert "No finished scores yet" in html
    assert "This rule has not scored anything yet." in html


# --- Pause, resume, delete ---


def test_pause_and_resume(owner_client, project):
    rule = judge_rule(project)
    response = owner_client.post(rule_url(project, rule, "pause"))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.status, rule.paused_reason) == ("paused", "paused by owner")
    # From the rule's page, back to the rule's page.
    response = owner_client.post(rule_url(project, rule, "resume"), {"next": rule_url(project, rule)})
    assert response["Location"] == rule_url(project, rule)
    rule.refresh_from_db()
    assert (rule.status, rule.paused_reason) == ("active", "")


def test_a_rule_that_became_invalid_stays_paused(owner_client, project, settings):
    rule = judge_rule(project)
    services.eval_rule_pause(rule=rule, reason="paused by owner")
    stored(project)
    settings.PEEKR_JUDGE_MODEL = "gpt-4o-mini"  # now the judge model would judge its own spans
    response = owner_client.post(rule_url(project, rule, "resume"), follow=True)
    assert "stays paused" in response.content.decode()
    rule.refresh_from_db()
    assert rule.status == "paused"


def test_delete_keeps_the_scores_and_the_builtin_rule_cannot_be_deleted(owner_client, project):
    rule = judge_rule(project)
    trace, spans = stored(project)
    score = make_score(trace, spans[1], "faithfulness", rule=rule)
    response = owner_client.post(rule_url(project, rule, "delete"))
    assert response["Location"] == list_url(project)
    assert not EvalRule.objects.filter(pk=rule.pk).exists()
    assert Score.objects.get(pk=score.pk).rule_id is None

    builtin = next(r for r in services.rules_for_project(project=project) if r.is_builtin)
    response = owner_client.post(rule_url(project, builtin, "delete"), follow=True)
    assert "The built-in rule can be paused, not deleted." in response.content.decode()
    assert EvalRule.objects.filter(pk=builtin.pk).exists()


# --- Who may change rules ---


def test_an_engineer_can_edit_rules(client, project):
    client.force_login(member(project, Role.ENGINEER))
    assert b"New rule" in client.get(list_url(project)).content
    assert client.post(create_url(project), form_data()).status_code == 302
    assert EvalRule.objects.filter(name="RAG faithfulness").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_read_only_members_see_no_buttons_and_get_404_on_every_change(client, project, role):
    rule = judge_rule(project)
    project.reviewers_see_explorer = True  # a reviewer reads these pages where the project lets reviewers browse
    project.save()
    client.force_login(member(project, role))
    html = client.get(list_url(project)).content.decode()
    assert "RAG faithfulness" in html
    assert "New rule" not in html and ">Pause<" not in html and ">Edit<" not in html
    page = client.get(rule_url(project, rule)).content.decode()
    assert "<form" not in page.split("</header>")[1]  # no rule form, no pause/delete buttons
    assert "Only the project's owners, admins and engineers can change rules." in page
    assert client.get(create_url(project)).status_code == 404
    assert client.post(create_url(project), form_data(name="sneaky")).status_code == 404
    assert client.post(rule_url(project, rule), form_data(name="sneaky")).status_code == 404
    for action in ("pause", "resume", "delete"):
        assert client.post(rule_url(project, rule, action)).status_code == 404
    rule.refresh_from_db()
    assert (rule.name, rule.status) == ("RAG faithfulness", "active")
    assert not EvalRule.objects.filter(name="sneaky").exists()


def test_outsiders_get_404_on_every_page_and_post(client, outsider, project, other_project_and_key):
    rule = judge_rule(project)
    client.force_login(outsider)  # owner of another project
    for url in (list_url(project), create_url(project), rule_url(project, rule)):
        assert client.get(url).status_code == 404
    assert client.post(create_url(project), form_data(name="sneaky")).status_code == 404
    assert client.post(rule_url(project, rule), form_data(name="sneaky")).status_code == 404
    for action in ("pause", "resume", "delete"):
        assert client.post(rule_url(project, rule, action)).status_code == 404
    # Nor through their own project's URLs.
    other, _ = other_project_and_key
    assert client.get(rule_url(other, rule)).status_code == 404
    assert client.post(rule_url(other, rule, "pause")).status_code == 404
    rule.refresh_from_db()
    assert (rule.name, rule.status) == ("RAG faithfulness", "active")


def test_anonymous_users_are_sent_to_login(client, project):
    response = client.get(list_url(project))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- Scores on the trace explorer ---


def trace_list(client, project, headers=None, **params):
    from urllib.parse import urlencode

    url = reverse("traces:trace_list", args=[project.pk])
    return client.get(url + ("?" + urlencode(params) if params else ""), headers=headers or {})


def shown(response) -> list[str]:
    return re.findall(r'class="trace-name" href="[^"]+">([^<]+)</a>', response.content.decode())


@pytest.fixture
def scored(project):
    """Four traces: faithfulness failed on one, passed on one; pii failed on one; one never evaluated."""
    now = time.time()
    out = {}
    for i, name in enumerate(["faith-failed", "faith-passed", "pii-failed", "unscored"]):
        out[name] = stored(project, name=name, start=now - 60 * (i + 1))
    trace, spans = out["faith-failed"]
    make_score(trace, spans[1], "faithfulness", passed=False, value=0.5, details={"claims": CLAIMS})
    make_score(trace, spans[1], "pii", passed=True, source="rule")
    make_score(trace, spans[2], "faithfulness", status="error", error="judge unavailable after 4 attempt(s)")
    trace, spans = out["faith-passed"]
    make_score(trace, spans[1], "faithfulness", passed=True, value=1.0)
    make_score(trace, spans[2], "faithfulness", passed=True, value=0.9)
    trace, spans = out["pii-failed"]
    make_score(trace, spans[1], "pii", passed=False, source="rule")
    make_score(trace, spans[2], "faithfulness", status="skipped", error="No judge configured")
    return out


def test_the_trace_list_shows_a_scores_column(owner_client, project, scored):
    html = owner_client.get(reverse("traces:trace_list", args=[project.pk])).content.decode()
    rows = dict(
        re.findall(r'class="trace-name" href="[^"]+">([^<]+)</a>.*?<td class="scores-cell">(.*?)</td>', html, re.S)
    )
    assert ">1 failed / 3<" in rows["faith-failed"] and "sc-fail" in rows["faith-failed"]
    assert "1 error" in rows["faith-failed"]
    assert ">0 failed / 2<" in rows["faith-passed"] and "sc-pass" in rows["faith-passed"]
    assert ">1 failed / 1<" in rows["pii-failed"]  # a skipped evaluation is not counted
    assert "failed" not in rows["unscored"]


def test_the_score_filter_returns_exactly_the_traces_failing_an_evaluator(owner_client, project, scored):
    assert shown(trace_list(owner_client, project, evaluator="faithfulness", failed="on")) == ["faith-failed"]
    assert shown(trace_list(owner_client, project, evaluator="pii", failed="on")) == ["pii-failed"]
    assert shown(trace_list(owner_client, project, failed="on")) == ["faith-failed", "pii-failed"]
    assert shown(trace_list(owner_client, project, evaluator="faithfulness")) == ["faith-failed", "faith-passed"]
    assert shown(trace_list(owner_client, project, evaluator="faithfulness", score_below="0.95")) == [
        "faith-failed",
        "faith-passed",
    ]
    assert shown(trace_list(owner_client, project, evaluator="faithfulness", score_below="0.8")) == ["faith-failed"]
    # The partial htmx swaps in applies the same filter.
    partial = trace_list(owner_client, project, {**HTMX, "HX-Target": "results"}, evaluator="pii", failed="on")
    assert "<html" not in partial.content.decode()
    assert shown(partial) == ["pii-failed"]
    # An evaluator that does not exist is ignored, like any invalid filter value.
    assert len(shown(trace_list(owner_client, project, evaluator="nope"))) == 4


def test_the_trace_list_costs_a_fixed_number_of_queries_with_scores(
    owner_client, project, scored, django_assert_max_num_queries
):
    for i in range(20):
        trace, spans = stored(project, name=f"more-{i}", start=time.time() - 3600 - i)
        make_score(trace, spans[1], "faithfulness", passed=i % 2 == 0)
    # session, user, membership + project, the page with its score counts, the bounded total, saved views, switcher.
    with django_assert_max_num_queries(7):
        response = trace_list(owner_client, project)
    assert len(shown(response)) == 24
    with django_assert_max_num_queries(7):
        response = trace_list(owner_client, project, evaluator="faithfulness", failed="on", score_below="0.5")
    assert len(shown(response)) == 10  # the odd ones (value 0.0); faith-failed's 0.5 is not below 0.5


def test_the_waterfall_badges_evaluated_spans_and_the_span_detail_lists_the_claims(owner_client, project, scored):
    trace, spans = scored["faith-failed"]
    trace_url = reverse("traces:trace_detail", args=[project.pk, trace.trace_id])
    html = owner_client.get(trace_url).content.decode()
    assert re.search(r'<span class="wf-score fail" title="2 evaluations; not passed: faithfulness">✗ 1</span>', html)
    assert re.search(r'<span class="wf-score error" title="1 evaluation; not passed: faithfulness">! 1</span>', html)

    span_url = f"{trace_url}/spans/{spans[1].span_id}"
    detail = owner_client.get(span_url, headers=HTMX).content.decode()
    assert "Scores (2)" in detail
    claims = re.findall(r'<tr class="claim (\w+)">\s*<td>([^<]+)</td>\s*<td><span class="verdict">(\w+)</span>', detail)
    assert claims == [
        ("supported", "Paris is the capital of France.", "supported"),
        ("unsupported", "Paris has 40 million inhabitants.", "unsupported"),
    ]
    assert "No document gives a figure." in detail

    errored = owner_client.get(f"{trace_url}/spans/{spans[2].span_id}", headers=HTMX).content.decode()
    assert '<span class="badge st-error">error</span>' in errored
    assert "judge unavailable after 4 attempt(s)" in errored


def test_a_waterfall_row_badge_sums_up_its_scores():
    from evals.extensions import score_summary

    assert score_summary([]) is None
    assert score_summary([{"evaluator": "faithfulness", "status": "skipped"}]) is None
    pending = score_summary([{"evaluator": "faithfulness", "status": "pending"}])
    assert (pending["state"], pending["label"]) == ("pending", "…")
    passed = score_summary([{"evaluator": "pii", "status": "done", "passed": True}] * 3)
    assert (passed["state"], passed["label"], passed["title"]) == ("pass", "✓ 3", "3 evaluations")
