"""An alert's payload: 24 h mean, baseline, sample size, delta, the runbook as given, the deploys of the 72 h
before, the 5 worst traces with links, and the dimension that moved most."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import services
from alerts.models import Alert, Monitor
from metrics.models import Deploy
from tests.base import make_contribution, make_rollups, make_trace, steady_hours
from traces.models import Trace

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
METRIC = "score:faithfulness"
DEAD_RUNBOOK = "https://wiki.example.invalid/runbooks/faithfulness-deleted-page"


@pytest.fixture
def fired(project, settings):
    settings.PEEKR_PUBLIC_URL = "https://peekr.example.com"
    bad = {END - timedelta(hours=h): [0.3] * 40 for h in range(1, 7)}
    make_rollups(project, METRIC, steady_hours(END))
    make_rollups(project, METRIC, bad)
    make_rollups(project, METRIC, steady_hours(END), dim="release", value="2.4.0")
    make_rollups(project, METRIC, bad, dim="release", value="2.4.1")
    make_rollups(project, METRIC, steady_hours(END), dim="model", value="gpt-4o")
    make_rollups(project, METRIC, bad, dim="model", value="gpt-4o")
    Deploy.objects.create(project=project, version="2.4.1", environment="prod", at=END - timedelta(hours=7))
    Deploy.objects.create(project=project, version="2.4.0", environment="prod", at=END - timedelta(hours=60))
    Deploy.objects.create(project=project, version="2.3.9", environment="prod", at=END - timedelta(hours=80))
    traces = [Trace.objects.get(project=project, trace_id=make_trace(project, n_llm=0)[0]) for _ in range(7)]
    for i, trace in enumerate(traces):
        make_contribution(trace, hour=END - timedelta(hours=2), metric=METRIC, value=0.1 * (i + 1))
    monitor = Monitor.objects.get(project=project, metric=METRIC)
    monitor.runbook_url = DEAD_RUNBOOK
    monitor.save()
    for i in range(3):
        services.monitors_evaluate(now=END + timedelta(minutes=i), project=project)
    return Alert.objects.get(monitor=monitor), traces


def test_the_payload_carries_what_on_call_needs(project, fired):
    alert, traces = fired
    p = alert.payload
    assert p["monitor"]["metric"] == METRIC and p["monitor"]["direction"] == "down"
    assert p["sample_size"] == 700 and p["baseline_sample_size"] == 7 * 24 * 20
    assert p["mean_24h"] == pytest.approx((460 * 0.85 + 240 * 0.3) / 700)
    assert p["baseline_7d"] == pytest.approx(0.85)
    assert p["delta_pct"] == pytest.approx((p["mean_24h"] - 0.85) / 0.85 * 100)
    assert p["runbook_url"] == DEAD_RUNBOOK
    assert [(d["version"], d["environment"]) for d in p["deploys"]] == [("2.4.1", "prod"), ("2.4.0", "prod")]
    worst = p["worst_traces"]
    assert [t["trace_id"] for t in worst] == [t.trace_id for t in traces[:5]]
    assert worst[0]["url"] == f"https://peekr.example.com/p/{project.pk}/traces/{traces[0].trace_id}"
    assert p["moved_most"]["text"] == "release 2.4.1: 0.30 vs 0.85"
    assert p["moved_most"]["n"] == 240


def test_every_channel_gets_the_stored_payload(project, fired):
    alert, _ = fired
    message = services.alert_message(alert, "fired")
    assert message["payload"] == alert.payload
    assert message["event"] == "alert.fired" and message["alert_id"] == alert.pk
    assert message["alert_url"] == f"https://peekr.example.com/p/{project.pk}/alerts/{alert.pk}"
