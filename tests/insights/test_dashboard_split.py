"""The Dashboards page's split on the trace charts: one series per release, model or environment (the largest six,
the rest as "other"), each opening its own traces; "none" (the default) keeps the charts as they were."""

import pytest

from insights import dashboard, selectors
from tests.base import make_production_trace
from tests.insights.test_views_dashboard_filters import chart, figure
from tests.metrics.helpers import hour_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic(project):
    rows = [
        ("1.0", "gpt-4o-mini", 2.0, False),
        ("2.0", "gpt-4o-mini", 4.0, True),
        ("2.0", "claude-3-haiku", 6.0, False),
    ]
    for h, (release, model, duration, error) in enumerate(rows, start=1):
        make_production_trace(project, start=hour_ago(h), release=release, model=model, duration=duration, error=error)
    return project


def series(fig) -> dict[str, float]:
    return {t["name"]: sum(y for y in t["y"] if y is not None) for t in fig["data"]}


def test_the_page_does_not_split_unless_asked():
    assert dashboard.parse({}).split == "none"
    assert dashboard.parse({"split": "bogus"}).split == "none"


def test_the_traces_and_cost_charts_stack_a_series_per_release(owner_client, traffic):
    fig = figure(chart(owner_client, traffic, "traces", range="24h", split="release"))
    assert series(fig) == {"2.0": 2, "1.0": 1}  # largest first
    assert [t["type"] for t in fig["data"]] == ["bar", "bar"]
    assert [t["meta"] for t in fig["data"]] == [{"release": "2.0"}, {"release": "1.0"}]
    assert fig["layout"]["barmode"] == "stack"
    unsplit = figure(chart(owner_client, traffic, "traces", range="24h", split="none"))
    assert [t["name"] for t in unsplit["data"]] == ["ok", "error"]
    cost = figure(chart(owner_client, traffic, "cost", range="24h", split="release"))
    assert set(series(cost)) == {"2.0", "1.0"} and all(v > 0 for v in series(cost).values())


def test_latency_and_error_rate_draw_a_line_per_model(owner_client, traffic):
    latency = figure(chart(owner_client, traffic, "latency", range="24h", split="model"))
    p50 = {t["name"]: [y for y in t["y"] if y is not None] for t in latency["data"]}
    assert {name: sorted(ys) for name, ys in p50.items()} == {"gpt-4o-mini": [2.0, 4.0], "claude-3-haiku": [6.0]}
    errors = figure(chart(owner_client, traffic, "error_rate", range="24h", split="model"))
    rates = {t["name"]: sorted(y for y in t["y"] if y is not None) for t in errors["data"]}
    assert rates == {"gpt-4o-mini": [0.0, 100.0], "claude-3-haiku": [0.0]}
    assert {t["name"]: t["meta"] for t in errors["data"]}["claude-3-haiku"] == {"model": "claude-3-haiku"}


def test_past_six_groups_the_smallest_are_summed_as_other(project):
    for i in range(8):
        for _ in range(8 - i):  # release r0 has 8 traces ... r7 has 1
            make_production_trace(project, start=hour_ago(1), release=f"r{i}")
    time_range, since, _ = selectors.range_since("24h")
    groups = selectors.trace_series_split(project=project, time_range=time_range, since=since, dim="release")
    names = [g for g, _ in groups]
    assert names == ["r0", "r1", "r2", "r3", "r4", "r5", "other"]
    other = groups[-1][1]
    assert sum(b["traces"] for b in other.values()) == 3  # r6 (2) + r7 (1)
    assert all(b["p50"] is None for b in other.values())  # no median of a sum of groups
    assert all(b["p50"] == 2000.0 for b in groups[0][1].values())
