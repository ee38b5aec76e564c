"""traces.pipeline_sample (beat, every minute): one backlog sample per stage, once a minute, a week kept."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.traces.pipeline_backlog import completed_traces
from traces.models import PipelineSample
from traces.pipeline import STAGES
from traces.tasks import pipeline_sample


@pytest.mark.django_db
def test_it_records_every_stage_backlog(project):
    completed_traces(project, 4, age_seconds=180)
    assert pipeline_sample.apply().get() == len(STAGES)
    rows = {s.stage: s for s in PipelineSample.objects.all()}
    assert set(rows) == {s.name for s in STAGES} >= {"evaluate", "detect", "route"}
    assert rows["evaluate"].waiting == 4
    assert 175 <= rows["evaluate"].oldest_seconds < 240
    assert rows["evaluate"].at.second == 0


@pytest.mark.django_db
def test_running_it_twice_in_a_minute_keeps_one_sample_per_stage(project):
    pipeline_sample.apply()
    pipeline_sample.apply()
    minutes = set(PipelineSample.objects.values_list("at", flat=True))
    assert PipelineSample.objects.count() == len(STAGES) * len(
        minutes
    )  # 1 minute, or 2 if the clock turned between runs


@pytest.mark.django_db
def test_it_forgets_samples_older_than_a_week():
    now = timezone.now()
    PipelineSample.objects.create(at=now - timedelta(days=8), stage="evaluate", waiting=5, oldest_seconds=90)
    PipelineSample.objects.create(at=now - timedelta(days=6), stage="evaluate", waiting=6, oldest_seconds=90)
    pipeline_sample.apply()
    kept = PipelineSample.objects.filter(at__lt=now - timedelta(minutes=5))
    assert list(kept.values_list("waiting", flat=True)) == [6]
