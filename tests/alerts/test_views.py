"""The Monitors, Alerts and Channels pages: viewers read, engineers and up change; outsiders get 404."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, Channel, Monitor
from metrics.models import Deploy
from tests.alerts.helpers import known_alert
from tests.base import make_rollups, make_user, steady_hours
from traces.models import Membership, Role

pytestmark = pytest.mark.django_db

DEAD_RUNBOOK = "https://wiki.example.invalid/this-page-was-deleted"


@pytest.fixture
def viewer_client(client, project):
    viewer = make_user("viewer")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    return client


def test_viewers_read_monitors_and_alerts(viewer_client, project, django_assert_max_num_queries):
    alert = known_alert(project)
    with django_assert_max_num_queries(12):
        page = viewer_client.get(f"/p/{project.pk}/monitors")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="monitor-row') == 7 and "New monitor" not in html
    assert 'aria-current="page">Monitors</a>' in html
    with django_assert_max_num_queries(12):
        page = viewer_client.get(f"/p/{project.pk}/alerts")
    html = page.content.decode()
    assert f'id="alert-{alert.pk}"' in html and "release 2.4.1: 0.61 vs 0.83" in html
    assert "Acknowledge" not in html
    assert 'aria-current="page">Alerts</a>' in html


def test_viewers_cannot_change_anything(viewer_client, project):
    alert = known_alert(project)
    monitor = alert.monitor
    assert viewer_client.post(f"/p/{project.pk}/monitors", {"name": "x", "kind": "metric"}).status_code == 404
    assert viewer_client.post(f"/p/{project.pk}/monitors/{monitor.pk}/toggle", {"enabled": "0"}).status_code == 404
    assert viewer_client.post(f"/p/{project.pk}/alerts/{alert.pk}/action", {"action": "resolve"}).status_code == 404
    assert viewer_client.post(f"/p/{project.pk}/channels", {"name": "c", "kind": "webhook"}).status_code == 404
    alert.refresh_from_db()
    monitor.refresh_from_db()
    assert alert.state == "firing" and monitor.enabled


def test_outsiders_get_404(client, outsider, project):
    alert = known_alert(project)
    client.force_login(outsider)
    for path in ("monitors", f"monitors/{alert.monitor_id}", f"monitors/{alert.monitor_id}/chart", "alerts",
                 f"alerts/{alert.pk}", "channels"):  # fmt: skip
        assert client.get(f"/p/{project.pk}/{path}").status_code == 404, path


def test_an_engineer_creates_a_monitor_with_the_form(client, project):
    engineer = make_user("eng")
    Membership.objects.create(project=project, user=engineer, role=Role.ENGINEER)
    client.force_login(engineer)
    form = {"name": "Slow answers", "kind": "metric", "metric": "latency_p95_ms", "runbook_url": DEAD_RUNBOOK,
            "review_sigma": "3", "page_sigma": "5", "sustain_count": "3", "min_sample": "30", "factor": "5",
            "owners": ["eng"], "filter_dim": "environment", "filter_value": "prod"}  # fmt: skip
    response = client.post(f"/p/{project.pk}/monitors", form)
    monitor = Monitor.objects.get(project=project, name="Slow answers")
    assert response.status_code == 302 and response["Location"] == f"/p/{project.pk}/monitors/{monitor.pk}"
    assert monitor.direction == "up" and monitor.filter == {"environment": "prod"}
    assert [u.username for u in monitor.owners.all()] == ["eng"]
    page = client.get(response["Location"]).content.decode()
    assert f'<a href="{DEAD_RUNBOOK}" rel="noopener noreferrer">{DEAD_RUNBOOK}</a>' in page

    bad = client.post(f"/p/{project.pk}/monitors", {**form, "name": "Other", "metric": "nope"})
    assert bad.status_code == 400 and "unknown metric &#x27;nope&#x27;" in bad.content.decode()
    bad = client.post(f"/p/{project.pk}/monitors", {**form, "name": "Other", "page_sigma": "1"})
    assert bad.status_code == 400 and "page_sigma (1.0) must not be below review_sigma (3.0)" in bad.content.decode()


def test_acknowledge_and_resolve_with_htmx(owner_client, project, owner):
    alert = known_alert(project)
    url = f"/p/{project.pk}/alerts/{alert.pk}/action"
    response = owner_client.post(url, {"action": "acknowledge"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith(
        f'<li class="card alert-card st-acknowledged" id="alert-{alert.pk}"'
    )
    assert "by owner" in html
    owner_client.post(url, {"action": "resolve"}, headers={"HX-Request": "true"})
    alert.refresh_from_db()
    assert alert.state == "resolved" and [e.kind for e in alert.events.all()] == ["acknowledged", "resolved"]
    assert owner_client.post(url, {"action": "resolve"}).status_code == 400


def test_toggle_a_monitor_with_htmx(owner_client, project):
    monitor = Monitor.objects.get(project=project, metric="cost_per_trace")
    response = owner_client.post(
        f"/p/{project.pk}/monitors/{monitor.pk}/toggle", {"enabled": "0"}, headers={"HX-Request": "true"}
    )
    assert 'data-enabled="0"' in response.content.decode()
    monitor.refresh_from_db()
    assert not monitor.enabled


def test_the_chart_draws_the_series_baseline_band_and_deploys(owner_client, project):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    make_rollups(project, "score:faithfulness", steady_hours(now, hours=72))
    Deploy.objects.create(project=project, version="2.4.1", at=now - timedelta(hours=5))
    monitor = Monitor.objects.get(project=project, metric="score:faithfulness")
    html = owner_client.get(
        f"/p/{project.pk}/monitors/{monitor.pk}/chart", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'type="application/json"' in html and 'data-figure="figure-monitor-' in html
    figure = json.loads(re.search(r'type="application/json">(.*?)</script>', html).group(1))
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["deploy 2.4.1"]  # the deploy marker
    assert [s["type"] for s in figure["layout"]["shapes"]].count("rect") == 2  # the review and page bands
    assert len(figure["data"][0]["x"]) == 72
    assert "<script>" not in html  # CSP: nothing inline runs
    empty = Monitor.objects.get(project=project, metric="cost_per_trace")
    html = owner_client.get(f"/p/{project.pk}/monitors/{empty.pk}/chart").content.decode()
    assert "No data for this metric in the last 8 days." in html


def test_channels_page_creates_tests_and_logs(owner_client, project):
    response = owner_client.post(f"/p/{project.pk}/channels", {"name": "hook", "kind": "webhook", "url": "htp:/x"})
    assert response.status_code == 400 and "url must be an http:// or https:// URL" in response.content.decode()
    response = owner_client.post(
        f"/p/{project.pk}/channels", {"name": "hook", "kind": "webhook", "url": "https://h.example.com/x"}
    )
    assert response.status_code == 302
    channel = Channel.objects.get(project=project)
    sent = owner_client.post(f"/p/{project.pk}/channels/{channel.pk}/test", headers={"HX-Request": "true"})
    assert "Test queued" in sent.content.decode()
    page = owner_client.get(f"/p/{project.pk}/channels").content.decode()
    assert 'class="delivery-row" data-status="pending"' in page and "Send test alert" in page
    assert Alert.objects.count() == 0
