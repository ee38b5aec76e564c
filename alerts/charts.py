"""A monitor's chart: the hourly series of its metric over the last 8 days, the baseline and its review and page
bands, and the deploys as markers. Drawn like the dashboards (insights.charts): the figure travels as JSON in a
<script type="application/json">, static/js/charts.js draws it; no inline script."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import plotly.graph_objects as go
from django.utils import timezone
from django.utils.html import format_html, json_script

from alerts import services
from alerts.models import Monitor
from insights.charts import ACCENT, CONFIG, ERROR, MUTED, _layout
from metrics import selectors as metric_selectors
from metrics.accumulators import metric_def
from metrics.charts import add_deploy_markers

DAYS_SHOWN = 8
REVIEW_FILL, PAGE_FILL = "rgba(36, 86, 214, 0.10)", "rgba(200, 40, 46, 0.06)"


def _scale(unit: str) -> float:
    return 100.0 if unit == "%" else 1.0


def monitor_chart(*, monitor: Monitor, now: datetime | None = None) -> tuple[str, str]:
    """(html, empty message): the figure's fragment, or "" and why there is nothing to draw."""
    now = now or timezone.now()
    definition = metric_def(monitor.metric)
    unit = definition.unit if definition else ""
    scale = _scale(unit)
    start = now - timedelta(days=DAYS_SHOWN)
    points = metric_selectors.metric_series(
        project=monitor.project, metric=monitor.metric, filter=monitor.filter or None, start=start, end=now
    )
    if not points:
        return "", "No data for this metric in the last 8 days."
    figures = services.monitor_figures(monitor=monitor, now=now)
    fig = go.Figure()
    baseline = figures.get("baseline_value")
    spread = getattr(figures["verdict"], "spread", None)
    if baseline is not None and spread:
        sign = 1 if monitor.direction == Monitor.Direction.UP else -1
        for sigma, fill in ((monitor.page_sigma, PAGE_FILL), (monitor.review_sigma, REVIEW_FILL)):
            edge = (baseline + sign * sigma * spread) * scale
            fig.add_hrect(y0=baseline * scale, y1=edge, fillcolor=fill, line_width=0, layer="below")
    if baseline is not None:
        fig.add_hline(y=baseline * scale, line={"color": MUTED, "dash": "dash", "width": 1})
    fig.add_trace(
        go.Scatter(
            x=[p.at for p in points],
            y=[p.value * scale if p.value is not None else None for p in points],
            customdata=[p.n for p in points],
            mode="lines+markers",
            name=definition.label if definition else monitor.metric,
            line={"color": ACCENT, "width": 2},
            marker={"size": 3},
            hovertemplate="%{y:.3f}" + (" " + unit if unit else "") + " (n=%{customdata})<extra></extra>",
        )
    )
    deploys = metric_selectors.deploys_between(project=monitor.project, start=start, end=now)
    add_deploy_markers(fig, deploys, span=now - start, color=ERROR)
    _layout(fig, legend=False)
    fig.update_xaxes(range=[start, now], showgrid=False)
    fig.update_yaxes(title_text=unit or "value", ticksuffix="%" if unit == "%" else "")
    figure = json.loads(fig.to_json())
    figure["config"] = CONFIG
    element_id = f"figure-monitor-{monitor.pk}"
    return json_script(figure, element_id) + format_html(
        '<div class="plotly-figure" data-figure="{}"></div>', element_id
    ), ""
