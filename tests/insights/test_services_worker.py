"""In the real Celery worker: ingestion settles the trace, the pipeline runs its detection stage, and its
findings are stored."""

import time

import pytest

from insights.models import Finding, Insight
from tests.insights.stored import sequential_trace


def test_detection_is_a_pipeline_stage_registered_once():
    from insights.services import traces_detect
    from traces.pipeline import STAGES

    assert [s.handler for s in STAGES].count(traces_detect) == 1


@pytest.mark.worker
def test_the_worker_detects_a_completed_trace(celery_worker_process, project):
    trace = sequential_trace(project, complete=False)  # commits: on_commit enqueues trace_settle

    deadline = time.time() + 45
    while not Finding.objects.filter(trace=trace).exists() and time.time() < deadline:
        time.sleep(0.25)
    finding = Finding.objects.filter(trace=trace).first()
    assert finding is not None, (
        f"no finding within 45 s; worker log:\n{celery_worker_process.log_path.read_text()[-3000:]}"
    )
    assert finding.detector == "sequential_execution"
    trace.refresh_from_db()
    assert trace.completed_at is not None
    assert Insight.objects.get(project=project).count == 1
