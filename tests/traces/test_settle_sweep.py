"""The settle sweep runs the pipeline on the traces it completes, in its own task, as the settle task does: a
pipeline_run message per batch waited at the back of the queue, behind every settle message sent since, while
its traces already counted as complete (the pipeline bench's lag p95 of 33 s)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evals.models import Score
from tests.base import make_trace
from traces import tasks
from traces.models import Trace
from traces.pipeline import all_stages_mask


@pytest.mark.django_db
def test_the_settle_sweep_processes_what_it_completes_in_the_same_task(project, settings):
    settings.PEEKR_TRACE_QUIET_SECONDS = 5
    trace_id, _ = make_trace(project)
    trace = Trace.objects.get(trace_id=trace_id)
    Trace.objects.filter(pk=trace.pk).update(last_span_at=timezone.now() - timedelta(seconds=60))  # message lost

    assert tasks.settle_sweep() == 1

    trace.refresh_from_db()
    assert trace.completed_at is not None
    assert trace.processed_at is not None and trace.stages_done == all_stages_mask()
    assert Score.objects.filter(trace=trace, source="rule").exists()
    assert tasks.settle_sweep() == 0, "nothing left to settle"


@pytest.mark.django_db
def test_the_settle_sweep_leaves_a_trace_still_in_its_quiet_period(project, settings):
    settings.PEEKR_TRACE_QUIET_SECONDS = 5
    trace_id, _ = make_trace(project)

    assert tasks.settle_sweep() == 0

    trace = Trace.objects.get(trace_id=trace_id)
    assert trace.completed_at is None and trace.processed_at is None
