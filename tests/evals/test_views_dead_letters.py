"""The dead letters page /p/<id>/evals/dead-letters: judge evaluations that failed for good, retried by hand."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evals import services
from evals.models import Score
from tests.base import make_trace, make_user
from traces.models import Membership, Role, Span, Trace

RAW = '{"statements": [{"statement": "Paris is the capital", "verdict": "maybe"'


@pytest.fixture
def rule(project):
    return services.eval_rule_create(project=project, name="RAG faithfulness", evaluators=["faithfulness"])


def stored(project, name="answer"):
    trace_id, _ = make_trace(project, name=name)
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    return trace, list(Span.objects.filter(trace=trace).order_by("start_time", "pk"))


def failed_score(project, rule, *, name="refund question", span_index=1, evaluator="faithfulness", **kw) -> Score:
    trace, spans = stored(project, name=name)
    span = spans[span_index]
    fields = {
        "status": Score.Status.ERROR,
        "error": "judge unavailable after 4 attempt(s): 503 Service Unavailable",
        "attempts": 4,
        "judge_model": "judge-model",
        "source": Score.Source.JUDGE,
        **kw,
    }
    return Score.objects.create(
        project=project,
        trace=trace,
        span=span,
        target_key=f"span:{span.pk}",
        evaluator=evaluator,
        rule=rule,
        **fields,
    )


def page_url(project):
    return reverse("evals:dead_letters", args=[project.pk])


def retry_url(project, score):
    return reverse("evals:dead_letter_retry", args=[project.pk, score.pk])


def retry_all_url(project):
    return reverse("evals:dead_letter_retry_all", args=[project.pk])


def test_it_lists_judge_evaluations_that_failed_for_good(owner_client, project, rule):
    score = failed_score(project, rule, raw_reply=RAW, error="malformed judge reply: no verdict field")
    # Neither a rule evaluator's error nor a judge score still pending is a dead letter.
    other = failed_score(project, rule, name="other", evaluator="json_valid", source=Score.Source.RULE)
    pending = failed_score(project, rule, name="pending one", status=Score.Status.PENDING, error="")
    response = owner_client.get(page_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    trace_url = reverse("traces:trace_detail", args=[project.pk, score.trace.trace_id])
    assert f'href="{trace_url}?span={score.span.span_id}">refund question</a>' in html
    assert "chat gpt-4o-mini" in html  # the span
    assert "malformed judge reply: no verdict field" in html
    assert '<td class="num">4</td>' in html  # attempts
    assert '<details class="raw-reply"><summary>Raw judge reply</summary><pre>{&quot;statements&quot;' in html
    assert f'action="{retry_url(project, score)}"' in html
    assert "Retry all" in html
    assert f'data-score="{other.pk}"' not in html
    assert f'data-score="{pending.pk}"' not in html


def test_an_empty_list_says_so(owner_client, project):
    html = owner_client.get(page_url(project)).content.decode()
    assert "No failed evaluations" in html
    assert "Retry all" not in html


def test_retry_puts_the_score_back_to_pending(owner_client, project, rule):
    score = failed_score(project, rule)
    response = owner_client.post(retry_url(project, score))
    assert response.status_code == 302
    assert response["Location"] == page_url(project)
    score.refresh_from_db()
    assert (score.status, score.attempts, score.error) == ("pending", 0, "")
    follow = owner_client.get(page_url(project)).content.decode()
    assert "faithfulness queued again." in follow
    assert "No failed evaluations" in follow


def test_retry_all_is_bounded(owner_client, project, rule, monkeypatch):
    monkeypatch.setattr("evals.views.RETRY_ALL_LIMIT", 2)
    scores = [failed_score(project, rule, name=f"t{i}") for i in range(3)]
    response = owner_client.post(retry_all_url(project), follow=True)
    statuses = sorted(Score.objects.get(pk=s.pk).status for s in scores)
    assert statuses == ["error", "pending", "pending"]
    assert "2 failed evaluation(s) queued again. 1 more are left" in response.content.decode()


def test_only_a_dead_letter_of_this_project_can_be_retried(owner_client, project, rule, other_project_and_key):
    done = failed_score(project, rule, status=Score.Status.DONE, error="", passed=True, value=1.0)
    assert owner_client.post(retry_url(project, done)).status_code == 404
    other, _ = other_project_and_key
    elsewhere = failed_score(other, None)
    assert owner_client.post(retry_url(project, elsewhere)).status_code == 404
    assert Score.objects.get(pk=elsewhere.pk).status == "error"
    assert Score.objects.get(pk=done.pk).status == "done"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_read_only_members_see_the_list_without_buttons_and_cannot_retry(client, project, rule, role):
    score = failed_score(project, rule)
    user = make_user()
    Membership.objects.create(project=project, user=user, role=role)
    project.reviewers_see_explorer = True  # a reviewer reads these pages where the project lets reviewers browse
    project.save()
    client.force_login(user)
    html = client.get(page_url(project)).content.decode()
    assert "judge unavailable after 4 attempt(s)" in html
    assert ">Retry<" not in html and "Retry all" not in html
    assert client.post(retry_url(project, score)).status_code == 404
    assert client.post(retry_all_url(project)).status_code == 404
    assert Score.objects.get(pk=score.pk).status == "error"


def test_outsiders_get_404_on_the_page_and_every_post(client, outsider, project, rule, other_project_and_key):
    score = failed_score(project, rule)
    client.force_login(outsider)
    assert client.get(page_url(project)).status_code == 404
    assert client.post(retry_url(project, score)).status_code == 404
    assert client.post(retry_all_url(project)).status_code == 404
    other, _ = other_project_and_key  # their own project's URL does not reach it either
    assert client.post(retry_url(other, score)).status_code == 404
    assert Score.objects.get(pk=score.pk).status == "error"


def test_the_evaluations_page_links_to_the_dead_letters_with_their_count(owner_client, project, rule):
    failed_score(project, rule)
    html = owner_client.get(reverse("evals:rule_list", args=[project.pk])).content.decode()
    assert f'href="{page_url(project)}">Dead letters <span class="badge err">1</span>' in html
