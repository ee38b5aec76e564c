"""Dashboards (/p/<id>/dashboards): a page of chart slots, each chart an htmx partial drawn by the locally served
plotly.js; a chart with no data says so. Plus the aggregates behind them."""

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from evals.models import Score
from insights import charts, selectors
from tests.base import hex_id, llm_attributes, make_raw_span
from traces.models import Trace
from traces.services import spans_ingest

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def page_url(project, **params):
    url = reverse("insights:dashboards", args=[project.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def chart_url(project, name, range_key="24h"):
    return reverse("insights:dashboard_chart", args=[project.pk, name]) + f"?range={range_key}"


def store_trace(project, *, ago: float, duration: float, release: str, prompt: str, model: str, error=False):
    tid, start = hex_id(16), time.time() - ago
    root = make_raw_span(
        trace_id=tid, name="rag.answer", start=start, duration=duration, attributes={"langfuse.release": release}
    )
    call = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name=f"chat {model}",
        kind=3,
        start=start + 0.01,
        duration=duration - 0.02,
        status_code=2 if error else 0,
        status_message="upstream 500" if error else "",
        attributes={
            **llm_attributes(model=model),
            "openinference.span.kind": "LLM",  # OpenInference's prompt version, on a GenAI chat span
            "llm.prompt_template.version": prompt,
        },
    )
    spans_ingest(project=project, raws=[root, call])
    return Trace.objects.get(project=project, trace_id=tid)


@pytest.fixture
def traffic(project):
    traces = []
    for i in range(12):
        traces.append(
            store_trace(
                project,
                ago=600 + i * 3000,
                duration=1.0 + i * 0.25,
                release="1.4.0" if i % 3 else "1.5.0",
                prompt=f"v{1 + i % 2}",
                model="gpt-4o" if i % 4 == 0 else "gpt-4o-mini",
                error=i == 5,
            )
        )
    traces.append(store_trace(project, ago=3 * 86400, duration=9.0, release="1.3.0", prompt="v0", model="gpt-4o"))
    for n, trace in enumerate(traces[:10]):
        for evaluator, value in (("faithfulness", 0.5 + n * 0.05), ("json_valid", 1.0 if n % 3 else 0.0)):
            Score.objects.create(
                project=project,
                trace=trace,
                target_key=f"trace:{trace.pk}",
                evaluator=evaluator,
                source="rule",
                status="done",
                value=value,
                passed=value >= 0.7,
            )
    return traces


def test_the_page_has_a_slot_per_chart_and_loads_plotly_locally(owner_client, project):
    html = owner_client.get(page_url(project)).content.decode()
    slots = re.findall(r'hx-get="(/p/\d+/dashboards/chart/\w+\?range=24h)" hx-trigger="load"', html)
    assert [s.rsplit("/", 1)[1].split("?")[0] for s in slots] == list(charts.CHARTS)
    assert '<script src="/static/js/plotly.min.js"></script>' in html
    assert "cdn" not in html.lower()
    assert 'aria-current="true">24 h</a>' in html
    week = owner_client.get(page_url(project, range="7d")).content.decode()
    assert "?range=7d" in week and 'aria-current="true">7 days</a>' in week


# Charts other apps register (metrics' rollup charts, OTLP metrics) are tested with the data they read.
OWN_CHARTS = [name for name, spec in charts.CHARTS.items() if spec.build.__module__.startswith("insights.")]


@pytest.mark.parametrize("name", OWN_CHARTS)
def test_every_chart_draws_its_figure_as_a_partial(owner_client, project, traffic, name):
    response = owner_client.get(chart_url(project, name), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert f'<div class="chart" data-chart="{name}">' in html
    assert f'<div class="plotly-figure" data-figure="figure-{name}">' in html  # drawn by static/js/charts.js
    figure = re.search(rf'<script id="figure-{name}" type="application/json">(.*?)</script>', html, re.S)
    assert json.loads(figure.group(1))["data"]
    assert "<script src" not in html and "cdn.plot.ly" not in html  # plotly.js comes from the page, once


@pytest.mark.parametrize("name", list(charts.CHARTS))
def test_a_chart_without_data_says_so(owner_client, project, name):
    html = owner_client.get(chart_url(project, name, "1h"), headers=HTMX).content.decode()
    assert f'<p class="chart-empty" data-chart="{name}">' in html
    assert "the last hour" in html
    assert "data-figure" not in html


def test_breakdowns_and_series_count_what_is_in_the_range(project, traffic):
    time_range, since, now = selectors.range_since("24h")
    series = selectors.trace_series(project=project, time_range=time_range, since=since)
    assert sum(r["traces"] for r in series) == 12 and sum(r["errors"] for r in series) == 1
    by_release = {r["group"]: r for r in selectors.breakdown_by_release(project=project, since=since)}
    assert {k: v["traces"] for k, v in by_release.items()} == {"1.4.0": 8, "1.5.0": 4}
    by_model = {r["group"]: r for r in selectors.breakdown_by_model(project=project, since=since)}
    assert {k: v["calls"] for k, v in by_model.items()} == {"gpt-4o": 3, "gpt-4o-mini": 9}
    assert by_model["gpt-4o-mini"]["errors"] == 1 and by_model["gpt-4o"]["cost"] > 0
    by_prompt = {r["group"]: r["calls"] for r in selectors.breakdown_by_prompt_version(project=project, since=since)}
    assert by_prompt == {"v1": 6, "v2": 6}
    week = selectors.breakdown_by_release(project=project, since=timezone.now() - timedelta(days=7))
    assert {r["group"] for r in week} == {"1.3.0", "1.4.0", "1.5.0"}


def test_latency_percentiles_match_percentile_cont(project, traffic):
    time_range, since, _ = selectors.range_since("30d")  # day buckets
    found = selectors.latency_series(project=project, time_range=time_range, since=since)
    by_day: dict = {}
    for trace in traffic:
        by_day.setdefault(trace.start_time.replace(hour=0, minute=0, second=0, microsecond=0), []).append(
            trace.duration_ms
        )
    assert set(found) == set(by_day)
    for day, durations in by_day.items():
        assert found[day][0.5] == pytest.approx(selectors.percentile(sorted(durations), 0.5))
        assert found[day][0.95] == pytest.approx(selectors.percentile(sorted(durations), 0.95))


def test_percentile_interpolates_between_ranks():
    assert selectors.percentile([], 0.5) is None
    assert selectors.percentile([4.0], 0.95) == 4.0
    assert selectors.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert selectors.percentile([10.0, 20.0, 30.0, 40.0, 50.0], 0.95) == pytest.approx(48.0)


def test_evaluator_figures_come_from_the_scores(project, traffic):
    time_range, since, _ = selectors.range_since("24h")
    values = selectors.evaluator_score_values(project=project, since=since)
    assert sorted(values) == ["faithfulness", "json_valid"] and len(values["faithfulness"]) == 10
    rates = selectors.evaluator_pass_rates(project=project, time_range=time_range, since=since)
    assert sum(r["n"] for r in rates if r["evaluator"] == "json_valid") == 10
    assert sum(r["passed_n"] for r in rates if r["evaluator"] == "json_valid") == 6


def test_unknown_charts_and_outsiders_get_404(client, owner_client, project, outsider):
    assert owner_client.get(chart_url(project, "nope")).status_code == 404
    client.force_login(outsider)
    assert client.get(page_url(project)).status_code == 404
    assert client.get(chart_url(project, "traces")).status_code == 404


def test_plotly_js_is_the_bundle_of_the_installed_plotly_and_is_served_offline(client):
    from plotly.offline import get_plotlyjs_version

    path = Path(settings.BASE_DIR) / "static" / "js" / "plotly.min.js"
    head = path.read_bytes()[:200].decode()
    assert f"plotly.js v{get_plotlyjs_version()}" in head  # re-copy it when requirements.txt moves plotly
    response = client.get("/static/js/plotly.min.js")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:200].decode() == head


def test_shadow_traffic_is_never_counted_in_the_dashboards(project, traffic):
    """A candidate's answers to copies of real requests (peekr.traffic=shadow) are not what users got."""
    shadow = store_trace(
        project, ago=700, duration=9.0, release="2.0.0-shadow", prompt="v9", model="gpt-4o", error=True
    )
    Trace.objects.filter(pk=shadow.pk).update(traffic="shadow")
    time_range, since, now = selectors.range_since("24h")
    series = selectors.trace_series(project=project, time_range=time_range, since=since)
    assert sum(r["traces"] for r in series) == 12 and sum(r["errors"] for r in series) == 1
    assert "2.0.0-shadow" not in {r["group"] for r in selectors.breakdown_by_release(project=project, since=since)}
    by_model = {r["group"]: r["calls"] for r in selectors.breakdown_by_model(project=project, since=since)}
    assert by_model == {"gpt-4o": 3, "gpt-4o-mini": 9}
