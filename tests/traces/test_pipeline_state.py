"""traces.pipeline_state: each stage's backlog (waiting, oldest age), failed traces apart, queue depths, behind."""

import uuid

import pytest
from django.db.models import F

from peekr_web.celery import app as celery_app
from tests.traces.pipeline_backlog import completed_traces
from traces.models import Trace
from traces.pipeline import PIPELINE_MAX_ATTEMPTS
from traces.pipeline_state import behind_notice, human_duration, pipeline_state, queue_depths, stage_backlog

EVALUATE, DETECT, ROUTE = 1, 2, 4


@pytest.mark.django_db
def test_each_stage_counts_the_completed_traces_lacking_its_bit(project):
    old = completed_traces(project, 2, age_seconds=300)
    completed_traces(project, 3, age_seconds=20)
    Trace.objects.filter(pk__in=old).update(stages_done=EVALUATE | DETECT)  # only routing left for the old ones
    backlog = stage_backlog()
    assert backlog["stages"]["evaluate"]["waiting"] == 3
    assert 15 <= backlog["stages"]["evaluate"]["oldest_seconds"] < 60
    assert backlog["stages"]["route"]["waiting"] == 5
    assert 295 <= backlog["stages"]["route"]["oldest_seconds"] < 340
    assert backlog["failed"] == 0


@pytest.mark.django_db
def test_processed_and_open_traces_are_not_waiting(project):
    done = completed_traces(project, 2, age_seconds=300)
    Trace.objects.filter(pk__in=done).update(stages_done=EVALUATE | DETECT | ROUTE, processed_at=F("completed_at"))
    completed_traces(project, 1, age_seconds=300, completed_at=None)  # still open: not completed
    backlog = stage_backlog()
    assert backlog["stages"]["evaluate"] == {"waiting": 0, "oldest_seconds": None}
    assert backlog["failed"] == 0
    assert pipeline_state(queues=False)["behind"] is False


@pytest.mark.django_db
def test_traces_past_the_last_attempt_are_failed_not_behind(project, settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    completed_traces(project, 2, age_seconds=3600, pipeline_attempts=PIPELINE_MAX_ATTEMPTS)
    completed_traces(project, 1, age_seconds=10, pipeline_attempts=PIPELINE_MAX_ATTEMPTS - 1)
    state = pipeline_state(queues=False)
    assert state["failed"] == 2
    assert state["stages"]["evaluate"]["waiting"] == 1
    assert state["stages"]["evaluate"]["oldest_seconds"] < 60
    assert state["behind"] is False


@pytest.mark.django_db
def test_it_is_behind_past_the_threshold(project, settings):
    completed_traces(project, 1, age_seconds=120)
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    assert pipeline_state(queues=False)["behind"] is True
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 600
    assert pipeline_state(queues=False)["behind"] is False


@pytest.mark.django_db
def test_every_stage_is_read_in_one_query(project, django_assert_num_queries):
    completed_traces(project, 3, age_seconds=120)
    with django_assert_num_queries(1):
        stage_backlog()


def test_queue_depths_count_the_messages_waiting_in_the_broker():
    name = f"peekr-test-depth-{uuid.uuid4().hex[:8]}"  # a queue of its own: the shared ones are not touched
    with celery_app.connection_for_write() as conn:
        queue = conn.SimpleQueue(name)
        try:
            assert queue_depths((name,)) == {name: 0}
            for i in range(3):
                queue.put({"n": i})
            assert queue_depths((name,)) == {name: 3}
        finally:
            queue.queue.purge()
            queue.close()


def test_queue_depths_are_null_when_the_broker_does_not_answer():
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        assert queue_depths(("celery", "judges")) == {"celery": None, "judges": None}
    finally:
        celery_app.conf.broker_url = original


@pytest.mark.parametrize(
    "seconds, text",
    [
        (45, "45 s"),
        (89, "89 s"),
        (240, "4 min"),
        (3000, "50 min"),
        (7500, "2 h 5 min"),
        (7200, "2 h"),
        (3 * 86400, "3 days"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds, text):
    assert human_duration(seconds) == text


def test_the_notice_says_how_far_behind_and_how_many_with_separators(settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    backlog = {"stages": {"evaluate": {"waiting": 12400, "oldest_seconds": 245.0}}, "failed": 0}
    assert behind_notice(backlog) == "Evaluations are 4 min behind: 12,400 traces waiting"
    backlog["stages"]["evaluate"]["oldest_seconds"] = 59.0
    assert behind_notice(backlog) == ""
