"""The real Celery worker process completes traces enqueued by ingestion (Redis in CI, filesystem on a laptop)."""

import time

import pytest

from tests.base import make_trace
from traces.models import Trace


@pytest.mark.worker
def test_the_worker_completes_an_ingested_trace(celery_worker_process, project):
    trace_id, _ = make_trace(project)  # commits, so on_commit enqueues trace_settle

    deadline = time.time() + 30
    trace = Trace.objects.get(trace_id=trace_id)
    while trace.completed_at is None and time.time() < deadline:
        time.sleep(0.2)
        trace.refresh_from_db()
    assert trace.completed_at is not None, "the worker did not complete the trace within 30 s"
    assert trace.completed_at >= trace.last_span_at
