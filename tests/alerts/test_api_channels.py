"""/api/v1/channels: create (a malformed URL answers 400), list, send a test alert (logged as a delivery)."""

import json

import pytest

from alerts.delivery import delivery_attempt
from alerts.models import Channel, Delivery
from tests.alerts.receiver import receiver

pytestmark = pytest.mark.django_db

URL = "/api/v1/channels"


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def post(client, key, body, url=URL):
    return client.post(url, json.dumps(body), content_type="application/json", headers=auth(key))


def test_a_webhook_gets_a_signing_secret(client, api_key):
    response = post(client, api_key, {"name": "hook", "kind": "webhook", "url": "https://hooks.example.com/peekr"})
    assert response.status_code == 201
    body = response.json()
    assert len(body["secret"]) == 64 and Channel.objects.get(pk=body["id"]).secret == body["secret"]
    listed = client.get(URL, headers=auth(api_key)).json()["items"]
    assert [c["name"] for c in listed] == ["hook"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"kind": "webhook", "url": "not a url"},
            "url must be an http:// or https:// URL with a host, got 'not a url'",
        ),
        ({"kind": "webhook", "url": "ftp://example.com/x"}, "url must be an http:// or https:// URL"),
        ({"kind": "slack", "url": "https://"}, "url must be an http:// or https:// URL with a host"),
        ({"kind": "webhook", "url": "http://example.com:99999999/"}, "url is not a valid URL"),
        ({"kind": "webhook", "url": ""}, "url is required"),
        ({"kind": "email", "emails": []}, "an email channel needs from 1 to 50 addresses"),
        ({"kind": "email", "emails": ["ops@example.com", "@nope"]}, "not an email address: '@nope'"),
    ],
)
def test_a_malformed_target_is_refused(client, api_key, body, detail):
    response = post(client, api_key, {"name": "c", **body})
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert not Channel.objects.exists()


def test_send_a_test_alert(client, project, api_key):
    with receiver([200]) as hook:
        channel_id = post(client, api_key, {"name": "hook", "kind": "webhook", "url": hook.url}).json()["id"]
        response = client.post(f"{URL}/{channel_id}/test", headers=auth(api_key))
        assert response.status_code == 202
        assert response.json()["event"] == "test" and response.json()["status"] == "pending"
        delivery_attempt(delivery_pk=response.json()["id"])  # what the worker does (the worker test covers it)
        (request,) = hook.wait_for(1)
    assert request["json"]["event"] == "alert.test"
    assert request["json"]["payload"]["mean_24h"] == 0.61
    log = client.get(f"{URL}/{channel_id}/deliveries", headers=auth(api_key)).json()
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [("delivered", 1, 200)]


def test_another_projects_channel_is_not_found(client, api_key, other_project_and_key):
    _, other_key = other_project_and_key
    channel_id = post(client, api_key, {"name": "hook", "kind": "webhook", "url": "https://h.example.com"}).json()["id"]
    assert client.post(f"{URL}/{channel_id}/test", headers=auth(other_key)).status_code == 404
    assert not Delivery.objects.exists()
