"""An alert's life: paged only after 3 consecutive page-band evaluations, one open alert per monitor, acknowledged,
resolved by itself when the metric returns."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from alerts import services
from alerts.models import Alert, Monitor
from tests.base import make_rollups, steady_hours

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
METRIC = "score:faithfulness"


@pytest.fixture
def monitor(project):
    make_rollups(project, METRIC, steady_hours(END))  # 8 days x 24 h x 20 items, mean 0.85
    return Monitor.objects.get(project=project, metric=METRIC)  # the built-in one


def drop(project, hours: int = 6, items: int = 40, value: float = 0.3) -> None:
    make_rollups(project, METRIC, {END - timedelta(hours=h): [value] * items for h in range(1, hours + 1)})


def evaluate(project, at):
    found = services.monitors_evaluate(now=at, project=project)
    return found


def test_a_steady_metric_passes_and_raises_nothing(project, monitor):
    counts = evaluate(project, END)
    monitor.refresh_from_db()
    assert monitor.last_verdict == "pass" and monitor.last_n == 480
    assert monitor.last_value == pytest.approx(0.85) and monitor.last_baseline == pytest.approx(0.85)
    assert counts["pass"] == 1 and counts["insufficient"] == 6  # the other built-ins have no data
    assert not Alert.objects.exists()


def test_a_sustained_drop_pages_once_after_three_evaluations(project, monitor):
    drop(project)
    bands = []
    for i in range(6):
        evaluate(project, END + timedelta(minutes=i))
        monitor.refresh_from_db()
        bands.append(monitor.last_verdict)
        assert Alert.objects.filter(monitor=monitor).count() == (1 if i >= 2 else 0)
    assert bands == ["review", "review", "page", "page", "page", "page"]
    alert = Alert.objects.get(monitor=monitor)
    assert alert.state == "firing" and alert.opened_at == END + timedelta(minutes=2)
    p = alert.payload
    assert p["sample_size"] == 480 - 20 + 240  # the window starting at 12:02 yesterday leaves out 11:00's hour
    assert p["mean_24h"] == pytest.approx((460 * 0.85 + 240 * 0.3) / 700)
    assert p["baseline_7d"] == pytest.approx(0.85)
    assert p["delta"] == pytest.approx(p["mean_24h"] - 0.85)
    assert [e.kind for e in alert.events.all()] == ["fired"]


def test_acknowledged_stays_the_one_open_alert_then_recovery_resolves_it(project, monitor, owner):
    drop(project)
    for i in range(3):
        evaluate(project, END + timedelta(minutes=i))
    alert = Alert.objects.get(monitor=monitor)
    services.alert_acknowledge(alert=alert, user=owner, now=END + timedelta(minutes=4))
    evaluate(project, END + timedelta(minutes=5))
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == owner
    assert Alert.objects.filter(monitor=monitor).count() == 1

    # A day and a half of normal traffic later the 24 h mean is back: the alert resolves by itself.
    later = END + timedelta(hours=36)
    make_rollups(project, METRIC, steady_hours(later, hours=36))
    evaluate(project, later)
    alert.refresh_from_db()
    monitor.refresh_from_db()
    assert alert.state == "resolved" and alert.resolved_at == later, (monitor.last_verdict, monitor.last_detail)
    events = [(e.kind, e.user) for e in alert.events.order_by("at", "pk")]
    assert events == [("fired", None), ("acknowledged", owner), ("resolved", None)]
    monitor.refresh_from_db()
    assert monitor.last_verdict == "pass" and monitor.consecutive == 0


def test_the_database_refuses_a_second_open_alert_for_a_monitor(project, monitor):
    Alert.objects.create(project=project, monitor=monitor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(project=project, monitor=monitor, state="acknowledged")
    Alert.objects.filter(monitor=monitor).update(state="resolved")
    Alert.objects.create(project=project, monitor=monitor)  # a new one once the first is resolved
    assert Alert.objects.filter(monitor=monitor).count() == 2


def test_resolving_by_hand_twice_is_refused(project, monitor, owner):
    alert = Alert.objects.create(project=project, monitor=monitor)
    services.alert_resolve(alert=alert, user=owner)
    with pytest.raises(services.AlertInvalid, match="already resolved"):
        services.alert_resolve(alert=alert, user=owner)
    with pytest.raises(services.AlertInvalid, match="only a firing alert"):
        services.alert_acknowledge(alert=alert, user=owner)


def test_resolved_by_hand_while_still_off_pages_again_only_after_three_more_evaluations(project, monitor, owner):
    drop(project)
    for i in range(3):
        evaluate(project, END + timedelta(minutes=i))
    first = Alert.objects.get(monitor=monitor)
    services.alert_resolve(alert=first, user=owner, now=END + timedelta(minutes=3))
    for i in range(4, 7):
        evaluate(project, END + timedelta(minutes=i))
        assert Alert.objects.filter(monitor=monitor).count() == (2 if i == 6 else 1)
    assert Alert.objects.filter(monitor=monitor, state="firing").exclude(pk=first.pk).count() == 1
