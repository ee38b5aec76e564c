"""The Dashboards page's custom range, trace filters and split, and what a click on a point opens."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from insights import dashboard
from metrics.services import traces_rollup
from tests.base import make_production_trace
from tests.metrics.helpers import hour_ago


def figure(resp) -> dict:
    html = resp.content.decode()
    found = re.search(r'<script id="figure-[^"]+" type="application/json">(.*?)</script>', html, re.S)
    assert found, html[:800]
    return json.loads(found.group(1))


def chart(client, project, chart_name, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/p/{project.pk}/dashboards/chart/{chart_name}?{query}")


@pytest.fixture
def traffic(project):
    rows = [
        (30, "1.0", "gpt-4o-mini"),
        (5, "2.0", "gpt-4o-mini"),
        (4, "2.0", "claude-3-haiku"),
        (4, "2.0", "gpt-4o-mini"),
    ]
    pks = [make_production_trace(project, start=hour_ago(h), release=r, model=m).pk for h, r, m in rows]
    traces_rollup(pks)
    return project


def test_a_custom_range_is_parsed_as_utc_and_bucketed_by_its_length():
    q = dashboard.parse({"start": "2026-05-01T09:00", "end": "2026-05-01T11:00", "model": "gpt-4o", "split": "model"})
    assert (
        q.custom and q.since == datetime(2026, 5, 1, 9, tzinfo=UTC) and q.until == datetime(2026, 5, 1, 11, tzinfo=UTC)
    )
    assert q.time_range.unit == "minute" and q.split == "model"
    assert q.filters.model == "gpt-4o" and q.filter_params == {"model": "gpt-4o"}
    assert dashboard.parse({"start": "2026-05-01T00:00", "end": "2026-05-20T00:00"}).time_range.unit == "day"
    # an end before its start, or garbage, falls back to the preset
    assert not dashboard.parse({"start": "2026-05-02T00:00", "end": "2026-05-01T00:00", "range": "7d"}).custom
    assert dashboard.parse({"start": "yesterday", "range": "7d"}).time_range.key == "7d"
    assert dashboard.parse({"min_duration_ms": "abc"}).filters is None


@pytest.mark.django_db
def test_the_traces_chart_counts_only_the_filtered_traces_of_a_custom_range(owner_client, traffic):
    start = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")
    all_ = figure(chart(owner_client, traffic, "traces", start=start))
    assert sum(all_["data"][0]["y"]) + sum(all_["data"][1]["y"]) == 3  # the 30-hour-old trace is out of range
    haiku = figure(chart(owner_client, traffic, "traces", start=start, model="claude-3-haiku"))
    assert sum(haiku["data"][0]["y"]) + sum(haiku["data"][1]["y"]) == 1
    meta = haiku["layout"]["meta"]
    assert meta["traces_url"] == f"/p/{traffic.pk}/traces" and meta["query"] == {"model": "claude-3-haiku"}
    assert meta["axis"] == "x" and meta["step"] == 3600  # six hours: hour buckets
    assert [t["meta"] for t in haiku["data"]] == [{"status": "ok"}, {"status": "error"}]


@pytest.mark.django_db
def test_a_rollup_chart_applies_a_model_filter_and_says_which_filters_it_cannot(owner_client, traffic):
    resp = chart(owner_client, traffic, "cost_per_task", range="7d", model="claude-3-haiku", name="answer")
    html = resp.content.decode()
    assert 'data-left-out="name"' in html and "Not applied to this chart: name." in html
    filtered = figure(resp)
    everything = figure(chart(owner_client, traffic, "cost_per_task", range="7d"))
    n = {t["name"]: sum(t["customdata"]) for t in filtered["data"]}
    total = {t["name"]: sum(t["customdata"]) for t in everything["data"]}
    assert n["per trace"] == 1 and total["per trace"] == 4


@pytest.mark.django_db
def test_any_metric_splits_by_model_and_each_line_opens_its_models_traces(owner_client, traffic):
    resp = chart(owner_client, traffic, "metric_by_release", range="7d", metric="cost_per_trace", split="model")
    html = resp.content.decode()
    assert '<option value="model" selected>' in html
    lines = {t["name"]: t for t in figure(resp)["data"]}
    assert set(lines) == {"gpt-4o-mini", "claude-3-haiku"}
    assert lines["claude-3-haiku"]["meta"] == {"model": "claude-3-haiku"}
    only = figure(chart(owner_client, traffic, "metric_by_release", range="7d", metric="cost_per_trace",
                        split="model", model="claude-3-haiku"))  # fmt: skip
    assert [t["name"] for t in only["data"]] == ["claude-3-haiku"]


@pytest.mark.django_db
def test_the_page_keeps_filters_and_range_in_every_charts_url(owner_client, traffic):
    html = owner_client.get(
        f"/p/{traffic.pk}/dashboards?start=2026-05-01T09:00&end=2026-05-02T09:00&release=2.0&split=environment"
    ).content.decode()
    urls = re.findall(r'hx-get="(/p/\d+/dashboards/chart/traces\?[^"]*)"', html)
    assert (
        urls and "start=2026-05-01T09%3A00" in urls[0] and "release=2.0" in urls[0] and "split=environment" in urls[0]
    )
    assert "2026-05-01 09:00 to 2026-05-02 09:00 UTC" in html
