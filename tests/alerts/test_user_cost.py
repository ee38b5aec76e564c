"""The per-user cost monitor: one user whose 24 h cost runs past `factor` times their own daily baseline pages
(sustained like any monitor); the others' ordinary spend does not."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import services
from alerts.models import Alert
from alerts.monitors import monitor_create
from metrics.models import UserCost

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 10, 12, tzinfo=UTC)


def spend(project, user_id: str, per_hour: float, hours: range) -> None:
    UserCost.objects.bulk_create(
        [
            UserCost(project=project, hour=END - timedelta(hours=h), user_id=user_id, cost=per_hour, traces=2)
            for h in hours
        ]
    )


def test_a_runaway_user_pages_and_an_ordinary_one_does_not(project):
    monitor = monitor_create(project=project, name="Runaway users", kind="user_cost", metric="", factor=5)
    assert monitor.metric == "cost_per_user" and monitor.direction == "up"
    spend(project, "alice", 0.50, range(1, 8 * 24 + 1))  # $12 a day, every day
    spend(project, "bob", 0.50, range(25, 8 * 24 + 1))  # $12 a day for a week...
    spend(project, "bob", 4.00, range(1, 25))  # ... then $96 in the last 24 h: 8 times his own baseline

    for i in range(3):
        services.monitors_evaluate(now=END + timedelta(minutes=i), project=project)
        monitor.refresh_from_db()
        assert monitor.last_verdict == ("page" if i == 2 else "review")
    alert = Alert.objects.get(monitor=monitor)
    p = alert.payload
    assert p["user_id"] == "bob"
    assert p["mean_24h"] == pytest.approx(4.0 * 23)  # the window from 12:02 yesterday: 23 whole hours
    # The baseline week ends at 12:02 yesterday too: it holds 167 hours at $0.50 and yesterday's 12:00 at $4.
    assert p["baseline_7d"] == pytest.approx((167 * 0.5 + 4) / 7)
    assert p["factor"] == pytest.approx(92 / 12.5)
    assert p["moved_most"]["text"] == "user bob: $92.00 in 24 h vs $12.50 a day"


def test_everyone_at_their_usual_spend_passes(project):
    monitor = monitor_create(project=project, name="Runaway users", kind="user_cost", metric="")
    spend(project, "alice", 0.50, range(1, 8 * 24 + 1))
    spend(project, "carol", 0.01, range(1, 25))  # a new user's first cents: under the $1 floor
    services.monitors_evaluate(now=END, project=project)
    monitor.refresh_from_db()
    assert monitor.last_verdict == "pass" and not Alert.objects.exists()
