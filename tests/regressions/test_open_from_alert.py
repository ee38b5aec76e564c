"""A paging alert, fired for real by the monitors' evaluation, opens one regression (after commit), linked to the
alert, with its worst traces and the release that moved most; a second page on the same release adds to it."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import services as alert_services
from alerts.models import Alert, Monitor
from regressions.models import Regression
from regressions.severity import severity_for
from tests.base import make_contribution, make_rollups, make_trace, steady_hours
from traces.models import Trace

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
METRIC = "score:faithfulness"


def page(project, start: datetime, capture) -> Alert:
    for i in range(3):  # the third consecutive page-band evaluation pages
        with capture(execute=True):
            alert_services.monitors_evaluate(now=start + timedelta(minutes=i), project=project)
    return Alert.objects.filter(project=project).order_by("-pk").first()


def test_a_paging_alert_opens_one_regression(project, django_capture_on_commit_callbacks):
    make_rollups(project, METRIC, steady_hours(END))
    make_rollups(project, METRIC, {END - timedelta(hours=h): [0.3] * 40 for h in range(1, 7)})
    make_rollups(project, METRIC, {END - timedelta(hours=2): [0.3] * 40}, dim="release", value="2.4.1")
    bad = Trace.objects.get(project=project, trace_id=make_trace(project, n_llm=0)[0])
    make_contribution(bad, hour=END - timedelta(hours=2), metric=METRIC, value=0.05, dims={"release": "2.4.1"})
    assert not Regression.objects.exists()

    alert = page(project, END, django_capture_on_commit_callbacks)

    assert alert is not None and alert.state == "firing"
    regression = Regression.objects.get()
    monitor = Monitor.objects.get(project=project, metric=METRIC)
    assert (regression.source, regression.key, regression.alert_id) == ("alert", f"monitor:{monitor.pk}", alert.pk)
    assert regression.evaluator == METRIC and regression.status == "open"
    assert regression.release == alert.payload["moved_most"]["value"] == "2.4.1"
    assert regression.trace_ids == [bad.trace_id]
    # a 24 h mean of ~0.68 against 0.85 is a ~20 % relative drop of a judge score
    assert regression.drop == pytest.approx(abs(alert.payload["delta_pct"]) / 100)
    assert regression.drop > 0.1 and regression.severity == severity_for(kind="semantic", drop=regression.drop)
    assert regression.source_url == f"/p/{project.pk}/alerts/{alert.pk}"
    assert [e.kind for e in regression.events.all()] == ["opened"]

    # The alert resolves by hand and the monitor pages again: the same release adds to the open regression.
    alert_services.alert_resolve(alert=alert, note="by hand")
    again = page(project, END + timedelta(minutes=10), django_capture_on_commit_callbacks)
    assert again.pk != alert.pk
    assert Regression.objects.count() == 1
    regression.refresh_from_db()
    assert regression.occurrences == 2 and regression.status == "open"
    assert [e.kind for e in regression.events.order_by("at", "pk")] == ["opened", "seen_again"]


def test_the_hook_runs_only_after_the_alert_commits(project, django_capture_on_commit_callbacks):
    make_rollups(project, METRIC, steady_hours(END))
    make_rollups(project, METRIC, {END - timedelta(hours=h): [0.3] * 40 for h in range(1, 7)})
    for i in range(3):
        with django_capture_on_commit_callbacks(execute=False) as pending:
            alert_services.monitors_evaluate(now=END + timedelta(minutes=i), project=project)
    assert Alert.objects.count() == 1 and not Regression.objects.exists()  # still waiting for the commit
    for callback in pending:
        callback()
    assert Regression.objects.filter(source="alert").count() == 1


def test_a_page_is_one_message_on_its_channel_and_the_regression_goes_to_the_others(
    project, django_capture_on_commit_callbacks
):
    from alerts.models import Delivery
    from alerts.monitors import channel_create

    on_call = channel_create(project=project, name="on-call", kind="webhook", url="https://hooks.example.com/oncall")
    channel_create(project=project, name="team", kind="webhook", url="https://hooks.example.com/team")
    Monitor.objects.get(project=project, metric=METRIC).channels.add(on_call)
    make_rollups(project, METRIC, steady_hours(END))
    make_rollups(project, METRIC, {END - timedelta(hours=h): [0.3] * 40 for h in range(1, 7)})

    page(project, END, django_capture_on_commit_callbacks)

    sent = sorted((d.channel.name, d.event) for d in Delivery.objects.select_related("channel"))
    assert sent == [("on-call", "fired"), ("team", "regression")]
