"""Past its content tier a trace page shows the trace's structure, timings, scores and findings, with "content
expired on ..." where the content was."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evals.models import Score
from evals.services import span_write_back
from tests.base import make_trace
from traces.models import Span, Trace
from traces.retention_run import retention_run

PROMPT = "What is the capital of France?"


@pytest.fixture
def expired_trace(project):
    """A trace with a passing span score, 31 days on: its content removed; then a finding (a finding flags a
    trace, which would have kept its content: here it only has to be shown)."""
    trace_id, _ = make_trace(project)
    trace = Trace.objects.get(trace_id=trace_id)
    chat = Span.objects.filter(trace=trace, kind="llm").order_by("start_time").first()
    Score.objects.create(project=project, trace=trace, span=chat, target_key=f"span:{chat.pk}",
                         evaluator="json_valid", status="done", value=1.0, passed=True)  # fmt: skip
    span_write_back(span_pks=[chat.pk])  # as evaluation does: the row carries its scores
    t0 = timezone.now()
    retention_run(now=t0 + timedelta(days=31), pause=0)
    from tests.base import make_flag

    Trace.objects.filter(pk=trace.pk).update(completed_at=t0)  # findings are shown for completed traces
    make_flag(trace, "finding")  # detected before expiry in real life; here after, so the trace is not kept
    trace.refresh_from_db()
    assert trace.content_expired_at is not None
    return trace, chat, t0 + timedelta(days=31)


@pytest.mark.django_db
def test_the_trace_page_shows_structure_timings_scores_and_findings_with_a_tombstone(
    owner_client, project, expired_trace, django_assert_max_num_queries
):
    trace, chat, expired_on = expired_trace
    url = reverse("traces:trace_detail", args=[project.pk, trace.trace_id])
    with django_assert_max_num_queries(20):
        resp = owner_client.get(url + f"?span={chat.span_id}")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert f"Content expired on {expired_on:%Y-%m-%d}" in html
    assert html.count('class="wf-row ') == 3  # the structure
    assert "chat gpt-4o-mini" in html and "answer" in html
    assert "1 evaluation" in html and "✓ 1" in html  # the span's score badge
    assert PROMPT not in html and "Paris." not in html  # the content
    assert f"Content expired on {expired_on:%Y-%m-%d} (retention)" in html  # the opened span says so too

    findings = owner_client.get(reverse("insights:trace_findings", args=[project.pk, trace.trace_id]))
    assert findings.status_code == 200 and "A loop" in findings.content.decode()


@pytest.mark.django_db
def test_a_trace_with_content_has_no_tombstone(owner_client, project):
    trace_id, spans = make_trace(project)
    url = reverse("traces:trace_detail", args=[project.pk, trace_id]) + f"?span={spans[1].span_id}"
    html = owner_client.get(url).content.decode()
    assert "Content expired" not in html and PROMPT in html
