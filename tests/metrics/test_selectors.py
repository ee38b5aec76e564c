"""The rollup reads other parts use (monitors, charts): a window, a series by hour and by day, a breakdown,
user costs, deploys, the metric choices and the worst traces."""

from datetime import timedelta

import pytest

from metrics import selectors
from metrics.models import Deploy
from metrics.services import traces_rollup
from signals.models import Signal
from tests.base import make_production_trace, user_token
from tests.metrics.helpers import NOW, hour_ago


@pytest.fixture
def traffic(project):
    """Two days: release 1.0 yesterday (faithfulness 0.9), release 2.0 today (0.5, one signal of each kind)."""
    traces = []
    for h, release, score in [(30, "1.0", 0.9), (29, "1.0", 0.9), (3, "2.0", 0.5), (2, "2.0", 0.5), (2, "2.0", 0.4)]:
        traces.append(
            make_production_trace(
                project,
                start=hour_ago(h),
                release=release,
                sdk_scores={"faithfulness": score},
                user_id=f"u-{h}",
                session_id=f"s-{h}",
                duration=1.0 + h / 10,
            )  # fmt: skip
        )
    Signal.objects.create(project=project, trace=traces[2], kind="thumbs_down", source="api", key="td")
    Signal.objects.create(project=project, trace=traces[3], kind="task_completed", source="api", key="tc",
                          session_id="s-2")  # fmt: skip
    traces_rollup([t.pk for t in traces])
    return traces


def _kw(**kw):
    return {"start": NOW - timedelta(days=3), "end": NOW + timedelta(hours=1), **kw}


@pytest.mark.django_db
def test_a_window_has_the_value_the_sample_and_the_spread(project, traffic):
    w = selectors.metric_window(project=project, metric="score:faithfulness", **_kw())
    assert (round(w.value, 6), w.n) == (0.64, 5)
    assert w.sd == pytest.approx(0.2154, abs=1e-3)
    today = selectors.metric_window(project=project, metric="score:faithfulness", filter={"release": "2.0"},
                                    **_kw(start=NOW - timedelta(hours=24)))  # fmt: skip
    assert (round(today.value, 6), today.n) == (0.466667, 3)
    assert selectors.metric_window(project=project, metric="thumbs_down_rate", **_kw()).value == pytest.approx(0.2)
    assert selectors.metric_window(project=project, metric="latency_p95_ms", **_kw()).sd is None
    with pytest.raises(ValueError):
        selectors.metric_window(project=project, metric="score:x", filter={"colour": "red"}, **_kw())


@pytest.mark.django_db
def test_series_by_hour_and_by_day_leave_empty_buckets_out(project, traffic):
    hourly = selectors.metric_series(project=project, metric="score:faithfulness", **_kw())
    assert [(p.at, p.n) for p in hourly] == [
        (NOW - timedelta(hours=30), 1), (NOW - timedelta(hours=29), 1), (NOW - timedelta(hours=3), 1),
        (NOW - timedelta(hours=2), 2),
    ]  # fmt: skip
    daily = selectors.metric_series(project=project, metric="score:faithfulness", bucket="day", **_kw())
    assert sum(p.n for p in daily) == 5
    assert all(p.at.hour == 0 for p in daily)


@pytest.mark.django_db
def test_breakdown_user_costs_and_cost_per_successful_task(project, traffic):
    by_release = dict(selectors.metric_breakdown(project=project, metric="score:faithfulness", dim="release", **_kw()))
    assert by_release["1.0"].value == pytest.approx(0.9) and by_release["2.0"].n == 3
    costs = selectors.user_costs(project=project, **_kw())
    assert set(costs) == {user_token(project, u) for u in ("u-30", "u-29", "u-3", "u-2")}  # stored hashed
    assert costs[user_token(project, "u-2")] == pytest.approx(2 * traffic[0].cost)
    task = selectors.metric_window(project=project, metric="cost_per_successful_task", **_kw())
    assert task.n == 1  # one task completed; its session's two traces are its cost
    assert task.value == pytest.approx(traffic[3].cost + traffic[4].cost)
    per_user = selectors.metric_window(project=project, metric="cost_per_user", **_kw())
    assert per_user.n == 4


@pytest.mark.django_db
def test_deploys_choices_and_worst_traces(project, traffic):
    Deploy.objects.create(project=project, version="2.1", at=NOW - timedelta(hours=1))
    deploys = selectors.deploys_between(project=project, start=NOW - timedelta(days=3), end=NOW)
    assert [d.version for d in deploys] == ["2.1", "2.0", "1.0"]  # the first two seen in traces; newest first
    keys = [m.key for m in selectors.metric_choices(project)]
    assert "score:faithfulness" in keys and "pass:faithfulness" not in keys and "ttft_ms" in keys
    worst = selectors.worst_traces(project=project, metric="score:faithfulness", **_kw(), limit=2)
    assert [t.pk for t in worst] == [traffic[4].pk, traffic[2].pk]
    slow = selectors.worst_traces(project=project, metric="latency_p95_ms", higher_is_better=False, limit=1,
                                  filter={"release": "1.0"}, **_kw())  # fmt: skip
    assert [t.pk for t in slow] == [traffic[0].pk]
