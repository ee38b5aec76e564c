"""A judge rule's projected cost before saving (the form's htmx partial) and its cost to date on its page."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from evals import services
from evals.models import JudgeCall, Score
from tests.base import make_trace
from traces.models import Trace

PRICES = {"judge-model": {"input": 100.0, "output": 200.0}}  # USD per million tokens: big, so figures are easy


@pytest.fixture(autouse=True)
def judge_configured(settings):
    settings.PEEKR_JUDGE_BASE_URL = "http://127.0.0.1:9/v1"
    settings.PEEKR_JUDGE_MODEL = "judge-model"
    settings.PEEKR_JUDGE_API_KEY = "sk-test"


@pytest.fixture
def traffic(project):
    project.price_overrides = PRICES
    project.save(update_fields=["price_overrides"])
    for _ in range(20):
        make_trace(project, n_llm=1)
    Trace.objects.filter(project=project).update(completed_at=timezone.now())
    return project


def form_data(**kw) -> dict:
    data = {
        "name": "polite",
        "target": "span",
        "filter_kind": "llm",
        "evaluators": ["rubric"],
        "sample_rate": "100",
        "rubric_criteria": "Polite and on topic.",
        "rubric_min": "1",
        "rubric_max": "5",
    }
    return {**data, **kw}


def monthly(html: str) -> float:
    found = re.search(r'data-monthly="([0-9.]+)"', html)
    assert found, html
    return float(found.group(1))


def test_the_projection_follows_the_sample_rate_before_anything_is_saved(owner_client, traffic):
    url = reverse("evals:rule_cost_preview", args=[traffic.pk])
    full = owner_client.post(url, form_data(sample_rate="100"))
    tenth = owner_client.post(url, form_data(sample_rate="10"))
    assert full.status_code == tenth.status_code == 200
    # 20 traces in 7 days, one LLM span each, every one judged: 20/7 judgements a day
    assert "2.9 judgements a day" in full.content.decode()
    assert " per judgement × " in full.content.decode() and " a month" in full.content.decode()
    assert monthly(tenth.content.decode()) == pytest.approx(monthly(full.content.decode()) / 10, rel=0.01)
    assert not services.rules_for_project(project=traffic)[1:]  # nothing was saved


def test_a_trigger_selects_traces_whatever_the_sample_rate(owner_client, traffic):
    url = reverse("evals:rule_cost_preview", args=[traffic.pk])
    Trace.objects.filter(pk__in=list(Trace.objects.filter(project=traffic).values_list("pk", flat=True)[:5])).update(
        error_count=1
    )
    from traces.models import Span

    for trace in Trace.objects.filter(project=traffic, error_count=1):
        Span.objects.filter(trace=trace).update(status="error")
    none = owner_client.post(url, form_data(sample_rate="0"))
    errors = owner_client.post(url, form_data(sample_rate="0", triggers=["error"]))
    assert "No traces" not in errors.content.decode()
    assert monthly(none.content.decode()) == 0
    assert monthly(errors.content.decode()) > 0


def test_rule_evaluators_alone_cost_nothing(owner_client, traffic):
    resp = owner_client.post(reverse("evals:rule_cost_preview", args=[traffic.pk]), form_data(evaluators=["pii"]))
    assert "no LLM judge" in resp.content.decode()


def test_an_unpriced_judge_model_says_how_to_price_it(owner_client, traffic):
    resp = owner_client.post(
        reverse("evals:rule_cost_preview", args=[traffic.pk]), form_data(judge_model="some-unpriced-judge")
    )
    assert "price overrides" in resp.content.decode()


def test_the_rules_page_shows_cost_to_date_beside_the_projection(owner_client, traffic):
    rule = services.eval_rule_create(
        project=traffic, name="polite", evaluators=["rubric"], filter={"kind": "llm"},
        config={"rubric": {"criteria": "Polite.", "scale": {"min": 1, "max": 5}}},
    )  # fmt: skip
    trace = Trace.objects.filter(project=traffic).first()
    score = Score.objects.create(project=traffic, trace=trace, target_key="trace:x", evaluator="rubric", rule=rule,
                                 source="judge", status="done", judge_model="judge-model")  # fmt: skip
    JudgeCall.objects.create(project=traffic, rule=rule, score=score, model="judge-model", input_tokens=1000,
                             output_tokens=100, cost=1.25, day=date.today())  # fmt: skip
    page = owner_client.get(reverse("evals:rule_detail", args=[traffic.pk, rule.pk])).content.decode()
    assert '<dd class="cost-to-date">$1.2</dd>' in page or '<dd class="cost-to-date">$1.3</dd>' in page
    # past judgements set the tokens: 1000 in + 100 out at $100/$200 per M = $0.12 a judgement
    assert "$0.12 per judgement" in page
    assert "past judgements" in page


def test_a_viewer_cannot_ask_for_a_projection(client, traffic):
    from tests.base import make_user
    from traces.models import Membership, Role

    viewer = make_user("viewer")
    Membership.objects.create(project=traffic, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert client.post(reverse("evals:rule_cost_preview", args=[traffic.pk]), form_data()).status_code == 404
