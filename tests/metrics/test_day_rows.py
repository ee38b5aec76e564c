"""Day rows: a long window reads whole UTC days from their day rows and only its ragged edges from hours, and
gets exactly what the hours alone give."""

from datetime import UTC, datetime, timedelta

import pytest

from metrics import selectors
from metrics.models import Rollup
from metrics.selectors import _rows
from metrics.services import traces_rollup
from tests.base import make_production_trace

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


@pytest.fixture
def three_days(project):
    pks = []
    for i in range(3 * 24):  # one trace an hour, 3 days, scores that move with the hour
        at = START + timedelta(hours=i, minutes=17)
        release = "1.0.0" if i < 40 else "1.1.0"
        trace = make_production_trace(
            project, start=at.timestamp(), release=release, sdk_scores={"faithfulness": (i % 10) / 10}
        )
        pks.append(trace.pk)
    traces_rollup(pks)
    return pks


def _hours_only(project, metric, start, end, dim="all"):
    merged: dict = {}
    for _, _, data in _rows(
        project, selectors._keys(metric), dim, "" if dim == "all" else None, start, end, days=False
    ):
        selectors._merge_into(merged, data)
    return selectors._window(metric, merged)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, end",
    [
        (START + timedelta(hours=5, minutes=30), START + timedelta(days=2, hours=20, minutes=10)),  # edges + 1 day
        (START, START + timedelta(days=3)),  # whole days only
        (START + timedelta(hours=3), START + timedelta(hours=20)),  # inside one day: hours only
    ],
)
def test_a_window_from_days_and_edges_equals_the_window_from_hours(project, three_days, start, end):
    for metric in ("score:faithfulness", "latency_p95_ms", "cost_per_trace"):
        got = selectors.metric_window(project=project, metric=metric, start=start, end=end)
        want = _hours_only(project, metric, start, end)
        assert got.n == want.n > 0
        assert got.value == pytest.approx(want.value, rel=1e-12)  # sums in another order: the last bit may differ
        assert got.sd == (None if want.sd is None else pytest.approx(want.sd, rel=1e-9))


@pytest.mark.django_db
def test_day_buckets_read_day_rows_and_match_the_hours(project, three_days):
    start, end = START + timedelta(hours=5, minutes=30), START + timedelta(days=3)
    days = selectors.metric_series(project=project, metric="score:faithfulness", start=start, end=end, bucket="day")
    hours = selectors.metric_series(project=project, metric="score:faithfulness", start=start, end=end)
    assert [p.n for p in days] == [18, 24, 24] and sum(p.n for p in hours) == 66
    first_day = [p for p in hours if p.at < START + timedelta(days=1)]
    mean = sum(p.value * p.n for p in first_day) / sum(p.n for p in first_day)
    assert days[0].value == pytest.approx(mean)
    # one day row per release and day: 1.0.0 on days 1-2, 1.1.0 on days 2-3
    assert Rollup.objects.filter(project=project, dim="d:release").count() == 4
