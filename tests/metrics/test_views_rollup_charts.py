"""The Dashboards page's rollup charts: TTFT/TPOT, cost per successful task, signal rates, any metric by
release with its picker; deploy markers on every time series, insights' own charts included."""

import json
import re
from datetime import timedelta

import pytest

from metrics.models import Deploy
from metrics.services import traces_rollup
from tests.base import make_production_trace
from tests.metrics.helpers import NOW, hour_ago


def figure(resp) -> dict:
    html = resp.content.decode()
    found = re.search(r'<script id="figure-[^"]+" type="application/json">(.*?)</script>', html, re.S)
    assert found, html[:500]
    return json.loads(found.group(1))


@pytest.fixture
def rolled_up(project):
    pks = [
        make_production_trace(project, start=hour_ago(h), release=r, sdk_scores={"faithfulness": s}).pk
        for h, r, s in [(30, "1.0", 0.9), (5, "2.0", 0.4), (4, "2.0", 0.5)]
    ]
    traces_rollup(pks)
    Deploy.objects.create(project=project, version="2.0.1", environment="prod", at=NOW - timedelta(hours=2))


def chart(client, project, name, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/p/{project.pk}/dashboards/chart/{name}?{query}")


@pytest.mark.django_db
def test_the_page_lists_the_production_charts(owner_client, project):
    resp = owner_client.get(f"/p/{project.pk}/dashboards?range=90d")
    html = resp.content.decode()
    assert "Production metrics" in html
    for name in ("ttft_tpot", "cost_per_task", "signal_rates", "metric_by_release"):
        assert f"/dashboards/chart/{name}?range=90d" in html


@pytest.mark.django_db
def test_time_series_charts_carry_deploy_markers(owner_client, project, rolled_up):
    for name in ("ttft_tpot", "cost_per_task", "traces"):
        fig = figure(chart(owner_client, project, name, range="24h"))
        shapes = fig["layout"].get("shapes", [])
        notes = [a["text"] for a in fig["layout"].get("annotations", [])]
        assert "deploy 2.0.1 (prod)" in notes, name
        assert "deploy 2.0 (production)" in notes  # seen first in traces
        assert any(s["x0"].startswith((NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")) for s in shapes)
    week = figure(chart(owner_client, project, "cost_per_task", range="7d"))
    # 3 h apart on a 7-day chart: one line, one label, both versions on hover (labels never pile up)
    notes = [(a["text"], a["hovertext"]) for a in week["layout"]["annotations"]]
    assert [n for n, _ in notes] == ["deploy 1.0 (production)", "2 deploys"]
    assert "2.0 (production)" in notes[1][1] and "2.0.1 (prod)" in notes[1][1]
    ttft = figure(chart(owner_client, project, "ttft_tpot", range="7d"))
    assert [round(y) for y in ttft["data"][0]["y"]] == [250, 250, 250]
    assert round(ttft["data"][1]["y"][0]) == 25  # (1,500 - 250) ms / 50 tokens


@pytest.mark.django_db
def test_any_metric_is_split_by_release_with_a_picker(owner_client, project, rolled_up, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        resp = chart(owner_client, project, "metric_by_release", range="90d", metric="score:faithfulness")
    html = resp.content.decode()
    assert '<option value="score:faithfulness" selected>' in html and 'name="range" value="90d"' in html
    fig = figure(resp)
    lines = {t["name"]: t for t in fig["data"]}
    assert set(lines) == {"1.0", "2.0"}
    # Day buckets at 90 days: release 2.0's two hours (5 and 4 hours ago) are one point, 0.45, unless midnight UTC
    # falls between them (a run between 04:00 and 05:00 UTC): then each is its own day.
    days = {(NOW - timedelta(hours=h)).date() for h in (5, 4)}
    assert lines["2.0"]["y"] == ([pytest.approx(0.45)] if len(days) == 1 else [0.4, 0.5])
    bad = chart(owner_client, project, "metric_by_release", range="24h", metric="nonsense")
    assert '<option value="error_rate" selected>' in bad.content.decode()


@pytest.mark.django_db
def test_signal_rates_say_so_when_there_are_none(owner_client, project, rolled_up):
    assert "No user signals" in chart(owner_client, project, "signal_rates", range="24h").content.decode()


@pytest.mark.django_db
def test_an_outsider_gets_404(client, outsider, project):
    client.force_login(outsider)
    assert chart(client, project, "ttft_tpot").status_code == 404
    assert client.get(f"/p/{project.pk}/releases").status_code == 404
