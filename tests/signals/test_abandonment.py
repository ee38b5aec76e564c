"""Abandonment by the beat sweep once the quiet period is over, routed to review by the existing routing."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import QueueItem
from evals.services import feedback_record
from signals.models import Signal
from signals.routing import REVIEW_QUEUE
from signals.services import abandonment_sweep
from tests.base import make_turn


@pytest.mark.django_db
def test_a_session_quiet_after_an_answer_is_abandoned_and_sent_to_review(
    project, django_capture_on_commit_callbacks, eager_tasks
):
    start = time.time() - 600  # the turns are 10 minutes old: not yet quiet for 30
    make_turn(project, session="left", text="Book a table for two", start=start)
    last = make_turn(project, session="left", text="at 8 pm please", start=start + 30)
    done = make_turn(project, session="happy", text="Book a table for four", start=start)
    with django_capture_on_commit_callbacks(execute=True):
        feedback_record(trace=done, kind="task_completed")
    make_turn(project, session="", text="no session", start=start)

    assert abandonment_sweep() == 0
    later = timezone.now() + timedelta(minutes=31)
    with django_capture_on_commit_callbacks(execute=True):
        assert abandonment_sweep(now=later) == 1

    sig = Signal.objects.get(kind="abandonment")
    assert sig.trace_id == last.pk and sig.session_id == "left" and sig.source == "derived"
    assert sig.evidence["traces"] == [last.trace_id] and sig.evidence["gap_seconds"] >= 1800
    item = QueueItem.objects.get(trace=last)
    assert item.queue.name == REVIEW_QUEUE and item.reason == "signal abandonment"
    assert abandonment_sweep(now=later + timedelta(minutes=5)) == 0  # idempotent


@pytest.mark.django_db
def test_the_quiet_period_is_per_project(project, client, api_key):
    resp = client.put("/api/v1/routing-policy", data={"abandonment_quiet_seconds": 7200},
                      content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}")  # fmt: skip
    assert resp.status_code == 200
    make_turn(project, session="s", text="hello there", start=time.time() - 60)
    assert abandonment_sweep(now=timezone.now() + timedelta(minutes=40)) == 0
    assert abandonment_sweep(now=timezone.now() + timedelta(minutes=130)) == 1
