"""The beat runs alerts.monitors_evaluate every PEEKR_MONITOR_EVAL_SECONDS (default 300)."""

import pytest
from django.conf import settings

from alerts.models import Monitor
from alerts.tasks import monitors_evaluate
from peekr_web.celery import app

pytestmark = pytest.mark.django_db


def test_the_beat_schedule_evaluates_monitors_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["monitors-evaluate"]
    assert entry == {"task": "alerts.monitors_evaluate", "schedule": 300.0}
    assert "alerts.monitors_evaluate" in app.tasks and "alerts.deliver" in app.tasks


def test_the_task_evaluates_every_enabled_monitor(project):
    Monitor.objects.filter(project=project, metric="cost_per_trace").update(enabled=False)
    counts = monitors_evaluate.apply().get()
    assert counts == {"insufficient": 6}  # no rollups yet: no verdict, nothing raised
    assert Monitor.objects.filter(project=project, last_evaluated_at__isnull=False).count() == 6
