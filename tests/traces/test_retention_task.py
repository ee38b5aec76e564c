"""The daily beat entry: traces.retention runs the job, and skips while another run is at work."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests.base import make_trace
from traces.models import RetentionRun
from traces.tasks import retention


def test_beat_runs_retention_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["retention"]
    assert entry == {"task": "traces.retention", "schedule": 86400.0}
    assert retention.name == "traces.retention"


@pytest.mark.django_db
def test_the_task_runs_the_job_unless_a_run_is_at_work(project):
    make_trace(project)
    busy = RetentionRun.objects.create(now=timezone.now())  # status "running", started now
    assert retention.apply().get() is None
    assert RetentionRun.objects.count() == 1

    RetentionRun.objects.filter(pk=busy.pk).update(started_at=timezone.now() - timedelta(hours=7))  # died long ago
    run_pk = retention.apply().get()
    assert RetentionRun.objects.get(pk=run_pk).status == "done"
