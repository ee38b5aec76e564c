import pytest

from tests.traces.pipeline_backlog import completed_traces
from traces.pipeline import PIPELINE_MAX_ATTEMPTS, STAGES

IDLE_STAGE = {"waiting": 0, "oldest_seconds": None}


@pytest.mark.django_db
def test_it_is_200_when_database_and_broker_answer(client, settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    queues = body["pipeline_detail"].pop("queues")
    assert body == {
        "status": "ok",
        "pipeline": "ok",
        "pipeline_detail": {
            "stages": {s.name: IDLE_STAGE for s in STAGES},
            "failed": 0,
            "behind_seconds": 60,
        },
    }
    assert set(queues) == {"celery", "judges"}
    assert all(isinstance(n, int) and n >= 0 for n in queues.values())


@pytest.mark.django_db
def test_it_stays_200_but_says_behind_past_the_threshold(client, project, settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    completed_traces(project, 3, age_seconds=240)
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["pipeline"] == "behind"
    evaluate = body["pipeline_detail"]["stages"]["evaluate"]
    assert evaluate["waiting"] == 3
    assert 235 <= evaluate["oldest_seconds"] < 300


@pytest.mark.django_db
def test_it_is_ok_while_the_waiting_traces_are_younger_than_the_threshold(client, project, settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    completed_traces(project, 2, age_seconds=10)
    body = client.get("/healthz").json()
    assert body["pipeline"] == "ok"
    assert body["pipeline_detail"]["stages"]["evaluate"]["waiting"] == 2


@pytest.mark.django_db
def test_failed_traces_are_counted_apart_and_do_not_make_it_behind(client, project, settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    completed_traces(project, 2, age_seconds=3600, pipeline_attempts=PIPELINE_MAX_ATTEMPTS)
    body = client.get("/healthz").json()
    assert body["pipeline"] == "ok"
    assert body["pipeline_detail"]["failed"] == 2
    assert body["pipeline_detail"]["stages"]["evaluate"] == IDLE_STAGE


@pytest.mark.django_db
def test_it_is_503_naming_the_broker_when_the_broker_is_down(client, settings):
    from peekr_web.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        resp = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert resp.status_code == 503
    body = resp.json()
    assert any("broker unreachable" in p for p in body["problems"])
    assert body["pipeline_detail"]["queues"] == {"celery": None, "judges": None}  # the database still answers
