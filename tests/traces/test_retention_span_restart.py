"""A span re-sent with another start time stays one row: the row first stored keeps its id (and whatever points at
it) and takes the new start time and values (on PostgreSQL moving to the partition of that time)."""

import time

import pytest
from django.db import connection

from evals.models import Score
from tests.base import make_raw_span
from traces.models import Span, Trace
from traces.services import spans_ingest


@pytest.mark.django_db
@pytest.mark.parametrize("shift", [5.0, -3600.0, 20 * 3600.0, 3 * 86400.0])
def test_a_span_re_sent_with_another_start_time_stays_one_row(project, shift):
    start = time.time() - 7200
    first = make_raw_span(name="chat", start=start, duration=None, attributes={"input.value": "open"})
    spans_ingest(project=project, raws=[first])
    row = Span.objects.get(project=project, span_id=first.span_id)
    Score.objects.create(project=project, trace=row.trace, span=row, target_key=f"span:{row.pk}", evaluator="pii",
                         status="done", passed=True)  # fmt: skip

    again = make_raw_span(trace_id=first.trace_id, span_id=first.span_id, name="chat", start=start + shift,
                          duration=2.0, attributes={"input.value": "ended"})  # fmt: skip
    spans_ingest(project=project, raws=[again])

    rows = list(Span.objects.filter(project=project, span_id=first.span_id))
    assert len(rows) == 1
    assert rows[0].pk == row.pk and rows[0].start_time.timestamp() == pytest.approx(start + shift, abs=1e-3)
    assert rows[0].end_time is not None and rows[0].input_text == "ended"
    assert Score.objects.get(span_id=row.pk).trace_id == row.trace_id
    trace = Trace.objects.get(pk=row.trace_id)
    assert trace.span_count == 1 and trace.start_time == rows[0].start_time


@pytest.mark.django_db
def test_a_span_re_sent_under_another_trace_and_start_time_is_two_rows_on_postgresql_only(project):
    """Both at once is not noticed on PostgreSQL (it would take a look-up by span id across every partition on
    every batch); each trace keeps its copy. SQLite looks each batch's span ids up and moves the row."""
    start = time.time() - 5 * 86400
    first = make_raw_span(name="chat", start=start)
    spans_ingest(project=project, raws=[first])
    again = make_raw_span(span_id=first.span_id, name="chat", start=start + 3 * 86400)
    spans_ingest(project=project, raws=[again])
    rows = Span.objects.filter(project=project, span_id=first.span_id).count()
    assert rows == (2 if connection.vendor == "postgresql" else 1)
