import pytest


@pytest.mark.django_db
def test_it_is_200_when_database_and_broker_answer(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


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
    assert any("broker unreachable" in p for p in resp.json()["problems"])
