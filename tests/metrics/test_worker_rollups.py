"""With the real Celery worker: ingested traces complete, go through every pipeline stage, and become rollups."""

import time

import pytest

from metrics.models import Deploy, Rollup, TraceContribution
from tests.base import make_production_trace
from tests.metrics.helpers import hour_ago
from traces import pipeline
from traces.models import Trace


@pytest.mark.worker
def test_ingested_traces_become_rollups(celery_worker_process, project):
    traces = [make_production_trace(project, start=hour_ago(1), release="5.0", sdk_scores={"faithfulness": 0.75})
              for _ in range(3)]  # fmt: skip
    pks = [t.pk for t in traces]

    deadline = time.time() + 60
    while time.time() < deadline and TraceContribution.objects.filter(trace_id__in=pks).count() < 3:
        time.sleep(0.3)
    assert TraceContribution.objects.filter(trace_id__in=pks).count() == 3, celery_worker_process.log_path.read_text()[
        -3000:
    ]
    while time.time() < deadline and Trace.objects.filter(pk__in=pks, processed_at__isnull=True).exists():
        time.sleep(0.3)
    assert Trace.objects.filter(pk__in=pks, stages_done=pipeline.all_stages_mask()).count() == 3
    row = Rollup.objects.get(project=project, dim="release", value="5.0")
    assert row.traces == 3 and row.data["score:faithfulness"][:2] == [2.25, 3]
    assert Deploy.objects.filter(project=project, version="5.0", source="traces").count() == 1
