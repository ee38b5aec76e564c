"""The Evaluations page's lag chart: how far the evaluation stage was behind over the last 24 hours.

Drawn from the samples the worker records once a minute (traces.pipeline_state.pipeline_sample_record), like
the dashboards (insights.charts): the figure as JSON in a ``<script type="application/json">`` beside a
``<div data-figure>``, drawn by ``static/js/charts.js`` with the vendored plotly.js. No inline script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import plotly.graph_objects as go
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html, json_script

from traces.pipeline_state import pipeline_samples

STAGE = "evaluate"
WINDOW = timedelta(hours=24)
EMPTY = "No backlog samples yet: the worker records one a minute."
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


@dataclass
class LagChart:
    html: str = ""  # the figure, or "" when there is nothing to draw
    empty: str = ""


def lag_figure(samples: list[dict], *, since: datetime, now: datetime) -> go.Figure:
    """Minutes behind (the oldest waiting trace's age) as a line, traces waiting as bars on a second axis."""
    xs = [s["at"] for s in samples]
    fig = go.Figure(
        [
            go.Bar(
                x=xs,
                y=[s["waiting"] for s in samples],
                name="traces waiting",
                yaxis="y2",
                marker_color="#cfd4dc",
                opacity=0.6,  # the lag line, on the axis below, shows through
                hovertemplate="%{y:,} waiting<extra></extra>",
            ),
            go.Scatter(
                x=xs,
                y=[(s["oldest_seconds"] or 0) / 60 for s in samples],
                name="minutes behind",
                mode="lines",
                line={"color": "#2456d6", "width": 2},
                hovertemplate="%{y:.1f} min behind<extra></extra>",
            ),
        ]
    )
    fig.add_hline(y=settings.PEEKR_PIPELINE_BEHIND_SECONDS / 60, line={"color": "#c8282e", "dash": "dot", "width": 1})
    fig.update_layout(
        template="plotly_white",
        height=220,
        margin={"l": 52, "r": 52, "t": 12, "b": 36},
        font={"family": FONT, "size": 12, "color": "#1d2127"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        hovermode="x unified",
        bargap=0,
        yaxis={"title": {"text": "minutes behind"}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": "traces waiting"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
    )
    fig.update_xaxes(range=[since, now], showgrid=False)
    return fig


def lag_chart(*, now: datetime | None = None) -> LagChart:
    now = now or timezone.now()
    since = now - WINDOW
    samples = pipeline_samples(stage=STAGE, since=since)
    if not samples:
        return LagChart(empty=EMPTY)
    figure = json.loads(lag_figure(samples, since=since, now=now).to_json())
    figure["config"] = CONFIG
    html = json_script(figure, "figure-eval-lag") + format_html(
        '<div class="plotly-figure" data-figure="{}"></div>', "figure-eval-lag"
    )
    return LagChart(html=html)
