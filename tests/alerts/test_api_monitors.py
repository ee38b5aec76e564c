"""/api/v1/monitors: list, create, read, change, delete; refused input answers 400 with the reason."""

import json

import pytest

from alerts.models import Monitor
from alerts.monitors import channel_create
from tests.base import make_user
from traces.models import Membership, Role

pytestmark = pytest.mark.django_db

URL = "/api/v1/monitors"


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def post(client, key, body, url=URL):
    return client.post(url, json.dumps(body), content_type="application/json", headers=auth(key))


def test_a_new_project_has_the_built_in_monitors(client, api_key, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        body = client.get(URL, headers=auth(api_key)).json()
    assert sorted(m["metric"] for m in body["items"]) == sorted(
        ["score:faithfulness", "score:answer_relevancy", "pass:pii", "tool_failure_rate", "thumbs_down_rate",
         "latency_p95_ms", "cost_per_trace"]
    )  # fmt: skip
    by_metric = {m["metric"]: m for m in body["items"]}
    assert by_metric["score:faithfulness"]["direction"] == "down"
    assert by_metric["latency_p95_ms"]["direction"] == "up"
    assert all(m["is_builtin"] and m["enabled"] for m in body["items"])
    assert by_metric["cost_per_trace"]["state"]["verdict"] == ""


def test_create_read_change_delete(client, project, api_key, owner):
    channel = channel_create(project=project, name="hook", kind="webhook", url="https://hooks.example.com/x")
    response = post(client, api_key, {
        "name": "Faithfulness on 2.4", "metric": "score:faithfulness", "filter": {"release": "2.4.1"},
        "runbook_url": "https://wiki.example.com/rb", "owners": ["owner"], "channels": [channel.pk],
        "review_sigma": 2.5, "page_sigma": 4,
    })  # fmt: skip
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["filter"] == {"release": "2.4.1"} and created["direction"] == "down"
    assert created["owners"] == ["owner"] and created["channels"] == [channel.pk]
    assert (created["review_sigma"], created["page_sigma"], created["sustain_count"]) == (2.5, 4.0, 3)
    one = f"{URL}/{created['id']}"
    assert client.get(one, headers=auth(api_key)).json()["name"] == "Faithfulness on 2.4"

    patched = client.patch(one, json.dumps({"enabled": False, "sustain_count": 5}), content_type="application/json",
                           headers=auth(api_key))  # fmt: skip
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    stored = Monitor.objects.get(pk=created["id"])
    assert stored.sustain_count == 5 and stored.page_sigma == 4.0 and not stored.enabled

    assert client.delete(one, headers=auth(api_key)).status_code == 204
    assert not Monitor.objects.filter(pk=created["id"]).exists()
    assert client.get(one, headers=auth(api_key)).status_code == 404


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"metric": "score_of_nothing"}, "unknown metric 'score_of_nothing'"),
        ({"metric": "cost_per_trace", "review_sigma": -1}, "review_sigma must be a positive finite number, got -1"),
        ({"metric": "cost_per_trace", "review_sigma": 4, "page_sigma": 3}, "page_sigma (3.0) must not be below review_sigma (4.0)"),
        ({"metric": "cost_per_trace", "sustain_count": 0}, "sustain_count must be an integer from 1 to 100, got 0"),
        ({"metric": "cost_per_trace", "filter": {"colour": "red"}}, "filter dimension must be one of"),
        ({"metric": "cost_per_trace", "filter": {"release": "1", "model": "x"}}, "filter must be {} or one dimension"),
        ({"metric": "cost_per_trace", "runbook_url": "wiki/page"}, "runbook_url must be an http:// or https:// URL"),
        ({"metric": "cost_per_trace", "owners": ["outsider"]}, "owners must be members of the project: outsider is not"),
        ({"metric": "cost_per_trace", "channels": [999999]}, "no channel 999999 in this project"),
        ({"metric": "cost_per_trace", "direction": "sideways"}, None),  # the schema's own 422
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_the_reason(client, api_key, outsider, body, detail):
    response = post(client, api_key, {"name": "m", **body})
    if detail is None:
        assert response.status_code == 422
        return
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert detail in response.json()["detail"]
    assert not Monitor.objects.filter(name="m").exists()


def test_a_nan_threshold_is_refused(client, api_key):
    raw = '{"name": "m", "metric": "cost_per_trace", "page_sigma": NaN}'
    response = client.post(URL, raw, content_type="application/json", headers=auth(api_key))
    assert response.status_code == 400
    assert response.json()["detail"] == "page_sigma must be a positive finite number, got nan"


def test_a_taken_name_is_refused(client, api_key):
    response = post(client, api_key, {"name": "Faithfulness", "metric": "cost_per_trace"})
    assert response.status_code == 400 and "already exists" in response.json()["detail"]


def test_a_patch_with_page_below_review_is_refused(client, project, api_key):
    monitor = Monitor.objects.get(project=project, metric="cost_per_trace")
    response = client.patch(f"{URL}/{monitor.pk}", json.dumps({"page_sigma": 1}), content_type="application/json",
                            headers=auth(api_key))  # fmt: skip
    assert response.status_code == 400 and "must not be below review_sigma" in response.json()["detail"]
    monitor.refresh_from_db()
    assert monitor.page_sigma == 5.0


def test_another_projects_monitor_is_not_found(client, api_key, other_project_and_key):
    other, other_key = other_project_and_key
    theirs = Monitor.objects.filter(project=other).first()
    assert client.get(f"{URL}/{theirs.pk}", headers=auth(api_key)).status_code == 404
    assert client.delete(f"{URL}/{theirs.pk}", headers=auth(api_key)).status_code == 404
    assert Monitor.objects.filter(pk=theirs.pk).exists()


def test_owners_may_be_any_member(client, project, api_key):
    viewer = make_user("viewer")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    response = post(client, api_key, {"name": "m", "metric": "error_rate", "owners": ["viewer", "owner"]})
    assert response.status_code == 201 and response.json()["owners"] == ["owner", "viewer"]
