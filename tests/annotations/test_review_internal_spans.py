"""The review page: Peekr's own judge call (internal spans) never stands in for the trace's input and output;
its scores name the span they judged."""

import time

import pytest
from django.urls import reverse

from annotations.models import QueueItem
from tests.annotations.helpers import make_queue
from tests.base import hex_id, make_raw_span, make_user
from traces.models import Membership, Role, Span, Trace
from traces.services import spans_ingest


@pytest.fixture
def judged_trace(project):
    """An app's answer, then the SDK's inline judge call (peekr.internal) on it, in the same trace."""
    tid, start = hex_id(16), time.time() - 30
    root = make_raw_span(trace_id=tid, name="POST /v1/answer", start=start, duration=3.0)
    app = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        kind=3,
        start=start + 0.1,
        duration=1.0,
        attributes={"openinference.span.kind": "LLM", "input.value": "APP QUESTION", "output.value": "APP ANSWER"},
    )
    judge = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="chat gpt-4o",
        kind=3,
        start=start + 1.5,
        duration=1.0,
        attributes={
            "openinference.span.kind": "LLM",
            "peekr.internal": True,
            "input.value": "JUDGE PROMPT: is the answer faithful?",
            "output.value": "JUDGE VERDICT: yes",
        },
    )
    spans_ingest(project=project, raws=[root, app, judge])
    return Trace.objects.get(project=project, trace_id=tid), Span.objects.get(span_id=judge.span_id)


def test_an_item_pointing_at_the_judge_span_shows_the_apps_input_and_output(client, project, judged_trace):
    trace, judge = judged_trace
    assert judge.is_internal
    queue = make_queue(project, "q")
    # e.g. routed by a score the SDK's judge recorded on its own span
    item = QueueItem.objects.create(queue=queue, trace=trace, span=judge, reason="score below")
    reviewer = make_user("rita")
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    client.force_login(reviewer)
    html = client.get(reverse("annotations:review_item", args=[project.pk, item.pk])).content.decode()
    summary = html.split('class="case-input"', 1)[1].split('class="case-context', 1)[0]
    assert "APP QUESTION" in summary and "APP ANSWER" in summary
    assert "JUDGE" not in summary
    # nor does the span panel open on the judge's call
    panel = html.split('id="span-panel"', 1)[1]
    assert f'data-span="{judge.span_id}"' not in panel


def test_each_score_names_the_span_it_judged_and_opens_it(client, project, judged_trace):
    from evals.models import Score

    trace, _ = judged_trace
    app = Span.objects.get(trace=trace, name="chat gpt-4o-mini")
    Score.objects.create(project=project, trace=trace, span=app, target_key=f"span:{app.pk}",
                         evaluator="faithfulness", status=Score.Status.DONE, value=0.2, passed=False)  # fmt: skip
    Score.objects.create(project=project, trace=trace, target_key=f"trace:{trace.pk}",
                         evaluator="overall", status=Score.Status.DONE, value=1.0, passed=True)  # fmt: skip
    queue = make_queue(project, "q")
    item = QueueItem.objects.create(queue=queue, trace=trace, reason="manual")
    reviewer = make_user("rita")
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    client.force_login(reviewer)
    html = client.get(reverse("annotations:review_item", args=[project.pk, item.pk])).content.decode()
    scores = html.split('class="case-scores', 1)[1].split("</section>", 1)[0]
    item_url = reverse("annotations:review_item", args=[project.pk, item.pk])
    assert f'href="{item_url}?span={app.span_id}"' in scores
    assert "on chat gpt-4o-mini" in scores
    assert "on the trace" in scores
