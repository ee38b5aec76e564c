from datetime import timedelta

import pytest
from django.utils import timezone

from tests.base import make_raw_span, make_trace
from traces.models import Trace
from traces.services import spans_ingest, traces_due_for_settling, traces_settle


@pytest.fixture
def completed():
    """The traces each settle completed, in order (what the settle task runs the pipeline on)."""
    return []


def settle(completed, *, trace_pk, now):
    settled = traces_settle(trace_pks=[trace_pk], now=now)
    completed.extend(settled.completed)
    return settled.waits.get(trace_pk)


@pytest.mark.django_db
def test_a_trace_completes_once_its_root_ended_and_it_has_been_quiet(
    project, settings, completed, django_capture_on_commit_callbacks
):
    settings.PEEKR_TRACE_QUIET_SECONDS = 5
    trace_id, _ = make_trace(project)
    trace = Trace.objects.get(trace_id=trace_id)
    now = trace.last_span_at

    wait = settle(completed, trace_pk=trace.pk, now=now + timedelta(seconds=2))
    assert wait == pytest.approx(3.0)
    assert completed == []

    assert settle(completed, trace_pk=trace.pk, now=now + timedelta(seconds=6)) is None
    assert settle(completed, trace_pk=trace.pk, now=now + timedelta(seconds=7)) is None  # a second run changes nothing
    trace.refresh_from_db()
    assert trace.completed_at is not None
    assert completed == [trace.pk]


@pytest.mark.django_db
def test_a_trace_whose_root_is_open_waits_until_abandoned(
    project, settings, completed, django_capture_on_commit_callbacks
):
    settings.PEEKR_TRACE_QUIET_SECONDS = 5
    root = make_raw_span(name="agent", duration=None)
    spans_ingest(project=project, raws=[root])
    trace = Trace.objects.get(trace_id=root.trace_id)

    assert settle(completed, trace_pk=trace.pk, now=trace.last_span_at + timedelta(seconds=60)) is None
    assert completed == []
    assert trace.pk not in traces_due_for_settling(now=trace.last_span_at + timedelta(seconds=60))
    assert trace.pk in traces_due_for_settling(now=trace.last_span_at + timedelta(minutes=11))
    settle(completed, trace_pk=trace.pk, now=trace.last_span_at + timedelta(minutes=11))
    assert completed == [trace.pk]


@pytest.mark.django_db
def test_a_late_span_reopens_a_completed_trace(project, settings, completed):
    settings.PEEKR_TRACE_QUIET_SECONDS = 0
    trace_id, spans = make_trace(project)
    trace = Trace.objects.get(trace_id=trace_id)
    settle(completed, trace_pk=trace.pk, now=timezone.now() + timedelta(seconds=1))
    assert completed == [trace.pk]

    late = make_raw_span(trace_id=trace_id, parent_span_id=spans[0].span_id, name="late tool")
    spans_ingest(project=project, raws=[late])
    trace.refresh_from_db()
    assert trace.completed_at is None and trace.span_count == 4
    settle(completed, trace_pk=trace.pk, now=timezone.now() + timedelta(seconds=1))
    assert completed == [trace.pk, trace.pk]
