"""/api/v1/alerts: open first with their payload and history, a state filter, acknowledge and resolve."""

import pytest

from alerts.models import Alert, Monitor
from tests.alerts.helpers import known_alert

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts"


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def alerts(project):
    old = known_alert(project)
    Alert.objects.filter(pk=old.pk).update(state="resolved")
    other_monitor = Monitor.objects.get(project=project, metric="cost_per_trace")
    return old, known_alert(project), Alert.objects.create(project=project, monitor=other_monitor, payload={})


def test_open_alerts_come_first_with_payload_and_history(client, api_key, alerts, django_assert_max_num_queries):
    old, current, other = alerts
    with django_assert_max_num_queries(5):
        items = client.get(URL, headers=auth(api_key)).json()["items"]
    assert [i["id"] for i in items] == [other.pk, current.pk, old.pk]
    assert items[1]["payload"]["moved_most"]["text"] == "release 2.4.1: 0.61 vs 0.83"
    assert items[1]["monitor_name"] == "Faithfulness"
    open_ids = [i["id"] for i in client.get(URL, {"state": "open"}, headers=auth(api_key)).json()["items"]]
    assert open_ids == [other.pk, current.pk]
    resolved = client.get(URL, {"state": "resolved"}, headers=auth(api_key)).json()["items"]
    assert [i["id"] for i in resolved] == [old.pk]


def test_acknowledge_then_resolve(client, api_key, alerts):
    _, current, _ = alerts
    response = client.post(f"{URL}/{current.pk}/acknowledge", headers=auth(api_key))
    assert response.status_code == 200 and response.json()["state"] == "acknowledged"
    again = client.post(f"{URL}/{current.pk}/acknowledge", headers=auth(api_key))
    assert again.status_code == 400 and "only a firing alert" in again.json()["detail"]
    response = client.post(f"{URL}/{current.pk}/resolve", headers=auth(api_key))
    body = response.json()
    assert response.status_code == 200 and body["state"] == "resolved"
    assert [e["kind"] for e in body["events"]] == ["acknowledged", "resolved"]
    assert body["events"][1]["note"] == "resolved through the API"
    current.refresh_from_db()
    assert current.state == "resolved" and current.resolved_at is not None


def test_another_projects_alert_is_not_found(client, api_key, alerts, other_project_and_key):
    _, other_key = other_project_and_key
    _, current, _ = alerts
    assert client.get(f"{URL}/{current.pk}", headers=auth(other_key)).status_code == 404
    assert client.post(f"{URL}/{current.pk}/resolve", headers=auth(other_key)).status_code == 404
    assert client.get(URL, headers=auth(other_key)).json()["items"] == []
    current.refresh_from_db()
    assert current.state == "firing"
