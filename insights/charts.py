"""The dashboards' charts: Plotly figures from insights.selectors, rendered to an HTML fragment.

Each chart is an htmx partial of its own (``/p/<id>/dashboards/chart/<name>?range=24h``). The fragment is
the figure as JSON (``<script type="application/json">``, which never runs) and the div it is drawn in;
``static/js/charts.js`` draws it with plotly.js, loaded once by the page from ``static/js/plotly.min.js`` (no
CDN). No inline script, so the Content-Security-Policy needs none. A chart with no data gets no figure: the
template shows its ``empty`` message instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from django.utils.html import format_html, json_script
from plotly.subplots import make_subplots

from insights import selectors
from insights.selectors import TimeRange
from traces.models import Project

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
COLORS = ["#2456d6", "#7c3aed", "#0f766e", "#c2410c", "#be185d", "#a16207", "#15803d", "#475569", "#4338ca"]
ACCENT, ERROR, MUTED = "#2456d6", "#c8282e", "#8a94a6"
HEIGHT = 260
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


@dataclass
class Chart:
    name: str
    title: str
    html: str = ""  # the figure, or "" when there is nothing to draw
    empty: str = ""  # what to say instead


@dataclass
class Context:
    project: Project
    time_range: TimeRange
    since: datetime
    now: datetime
    params: Mapping[str, str] = field(default_factory=dict)  # the chart request's query (a picker's choice)
    until: datetime | None = None  # a custom range's end (a preset ends now: no bound, as before)
    filters: Any = None  # traces.selectors.TraceFilters, or None: no filter set
    query: Any = None  # insights.dashboard.DashboardQuery: range, filters and split as asked

    @property
    def scope(self) -> dict:
        """The range's end and the filters, as the dashboard selectors take them."""
        return {"until": self.until, "filters": self.filters}


@dataclass(frozen=True)
class ChartSpec:
    title: str
    build: Callable[[Context], go.Figure | str]  # a figure, or the empty-state message
    controls: Callable[[Context], str] | None = None  # safe HTML shown above the figure (a metric picker)


def _layout(fig: go.Figure, *, height: int = HEIGHT, legend: bool = True, **kw) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 52, "r": 16, "t": 12, "b": 36},
        font={"family": FONT, "size": 12, "color": "#1d2127"},
        colorway=COLORS,
        showlegend=legend,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        hoverlabel={"font": {"family": FONT, "size": 12}},
        **kw,
    )
    return fig


def _time_axis(fig: go.Figure, ctx: Context) -> go.Figure:
    fig.update_xaxes(range=[ctx.since, ctx.now], showgrid=False)
    fig.update_layout(hovermode="x unified")
    return fig


def _series(ctx: Context) -> tuple[list[datetime], dict[datetime, dict]]:
    rows = selectors.trace_series(project=ctx.project, time_range=ctx.time_range, since=ctx.since, **ctx.scope)
    return selectors.buckets(ctx.time_range, ctx.since, ctx.now), {r["bucket"]: r for r in rows}


def _no_traces(ctx: Context) -> str:
    return f"No traces in {ctx.time_range.label}."


def _split_dim(ctx: Context) -> str:
    """The page's split when one is chosen (insights.dashboard.SPLITS): the trace charts draw a series a value."""
    split = getattr(ctx.query, "split", "")
    return split if split in selectors.SPLIT_FIELDS else ""


def _group_meta(dim: str, group: str) -> dict | None:
    """What a click on a group's series adds to the trace list's filters (none for the merged or empty groups)."""
    if group in (selectors.OTHER_GROUP, "(none)") or (dim == "model" and " " in group):
        return None
    return {dim: group}


def _split_figure(ctx: Context, value: Callable[[dict], float | None], title: str, *, bars: bool, **axis):
    """One series per group of the page's split: stacked bars (counts, sums) or lines (rates, medians)."""
    dim = _split_dim(ctx)
    groups = selectors.trace_series_split(
        project=ctx.project, time_range=ctx.time_range, since=ctx.since, dim=dim, **ctx.scope
    )
    if not groups:
        return _no_traces(ctx)
    xs = selectors.buckets(ctx.time_range, ctx.since, ctx.now)
    fig = go.Figure()
    for group, rows in groups:
        ys = [value(rows[x]) if x in rows else (0 if bars else None) for x in xs]
        kw = {"name": group, "meta": _group_meta(dim, group)}
        if bars:
            fig.add_trace(go.Bar(x=xs, y=ys, **kw))
        else:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", marker={"size": 4}, connectgaps=False, **kw))
    if bars:
        _layout(fig, barmode="stack", bargap=0.15)
    else:
        _layout(fig)
    fig.update_yaxes(title_text=title, rangemode="tozero", **axis)
    return _time_axis(fig, ctx)


def traces_chart(ctx: Context) -> go.Figure | str:
    if _split_dim(ctx):
        return _split_figure(ctx, lambda r: r["traces"], "traces", bars=True)
    xs, rows = _series(ctx)
    if not rows:
        return _no_traces(ctx)
    ok = [(rows[x]["traces"] - rows[x]["errors"]) if x in rows else 0 for x in xs]
    errors = [rows[x]["errors"] if x in rows else 0 for x in xs]
    fig = go.Figure(
        [
            go.Bar(x=xs, y=ok, name="ok", marker_color=ACCENT, meta={"status": "ok"}),
            go.Bar(x=xs, y=errors, name="error", marker_color=ERROR, meta={"status": "error"}),
        ]
    )
    _layout(fig, barmode="stack", bargap=0.15)
    fig.update_yaxes(title_text="traces", rangemode="tozero")
    return _time_axis(fig, ctx)


def latency_chart(ctx: Context) -> go.Figure | str:
    if _split_dim(ctx):
        return _split_figure(
            ctx, lambda r: r["p50"] / 1000 if r["p50"] is not None else None, "p50 seconds", bars=False
        )
    found = selectors.latency_series(project=ctx.project, time_range=ctx.time_range, since=ctx.since, **ctx.scope)
    if not found:
        return f"No finished traces in {ctx.time_range.label}."
    xs = selectors.buckets(ctx.time_range, ctx.since, ctx.now)
    fig = go.Figure()
    for p, name, dash in ((0.5, "p50", "solid"), (0.95, "p95", "dot")):
        ys = [(found[x][p] / 1000 if found.get(x) and found[x][p] is not None else None) for x in xs]
        fig.add_trace(
            go.Scatter(x=xs, y=ys, name=name, mode="lines+markers", line={"dash": dash, "width": 2}, marker={"size": 4})
        )
    _layout(fig)
    fig.update_yaxes(title_text="seconds", rangemode="tozero")
    return _time_axis(fig, ctx)


def error_rate_chart(ctx: Context) -> go.Figure | str:
    if _split_dim(ctx):
        return _split_figure(ctx, lambda r: r["errors"] / r["traces"] * 100, "% of traces", bars=False, ticksuffix="%")
    xs, rows = _series(ctx)
    if not rows:
        return _no_traces(ctx)
    rates = [(rows[x]["errors"] / rows[x]["traces"] * 100) if x in rows else None for x in xs]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=rates,
            name="error rate",
            mode="lines+markers",
            line={"color": ERROR, "width": 2},
            marker={"size": 4},
            connectgaps=False,
            customdata=[[rows[x]["errors"], rows[x]["traces"]] if x in rows else [0, 0] for x in xs],
            hovertemplate="%{y:.1f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
        )
    )
    _layout(fig, legend=False)
    fig.update_yaxes(title_text="% of traces", rangemode="tozero", ticksuffix="%")
    return _time_axis(fig, ctx)


def tokens_chart(ctx: Context) -> go.Figure | str:
    if _split_dim(ctx):
        return _split_figure(ctx, lambda r: r["tokens"], "tokens", bars=True)
    xs, rows = _series(ctx)
    if not any(r["input_tokens"] or r["output_tokens"] for r in rows.values()):
        return f"No model calls with token counts in {ctx.time_range.label}."
    fig = go.Figure(
        [
            go.Bar(x=xs, y=[rows[x]["input_tokens"] if x in rows else 0 for x in xs], name="input"),
            go.Bar(x=xs, y=[rows[x]["output_tokens"] if x in rows else 0 for x in xs], name="output"),
        ]
    )
    _layout(fig, barmode="stack", bargap=0.15)
    fig.update_yaxes(title_text="tokens", rangemode="tozero")
    return _time_axis(fig, ctx)


def cost_chart(ctx: Context) -> go.Figure | str:
    if _split_dim(ctx):
        return _split_figure(ctx, lambda r: r["cost"], "USD", bars=True, tickprefix="$")
    xs, rows = _series(ctx)
    if not any(r["cost"] for r in rows.values()):
        return f"No priced model calls in {ctx.time_range.label}."
    fig = go.Figure(
        go.Bar(
            x=xs,
            y=[(rows[x]["cost"] or 0) if x in rows else 0 for x in xs],
            name="cost",
            marker_color=COLORS[2],
            hovertemplate="$%{y:.4f}<extra></extra>",
        )
    )
    total = sum(r["cost"] or 0 for r in rows.values())
    _layout(fig, legend=False, bargap=0.15)
    fig.update_yaxes(title_text="USD", rangemode="tozero", tickprefix="$")
    fig.add_annotation(
        text=f"total ${total:,.4f}" if total < 1 else f"total ${total:,.2f}",
        xref="paper",
        yref="paper",
        x=1,
        y=1,
        xanchor="right",
        yanchor="top",
        showarrow=False,
        font={"size": 11, "color": "#687080"},
    )
    return _time_axis(fig, ctx)


def _breakdown_figure(rows: list[dict], count_name: str, count_label: str) -> go.Figure:
    """Horizontal bars, one row per group: count (with errors), p50 latency, cost."""
    rows = list(reversed(rows))  # the largest group on top
    groups = [str(r["group"]) for r in rows]
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=(f"{count_label} (errors in red)", "p50 latency (s)", "cost (USD)"),
    )
    fig.add_trace(
        go.Bar(
            y=groups,
            x=[r[count_name] - r["errors"] for r in rows],
            orientation="h",
            name="ok",
            marker_color=ACCENT,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            y=groups,
            x=[r["errors"] for r in rows],
            orientation="h",
            name="error",
            marker_color=ERROR,
            customdata=[round(r["error_rate"] * 100, 1) for r in rows],
            hovertemplate="%{x} errors (%{customdata}%)<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            y=groups,
            x=[(r["p50_ms"] or 0) / 1000 for r in rows],
            orientation="h",
            name="p50",
            marker_color=COLORS[1],
            showlegend=False,
            hovertemplate="%{x:.2f} s<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Bar(
            y=groups,
            x=[r["cost"] for r in rows],
            orientation="h",
            name="cost",
            marker_color=COLORS[2],
            showlegend=False,
            customdata=[r["input_tokens"] + r["output_tokens"] for r in rows],
            hovertemplate="$%{x:.4f} · %{customdata:,} tokens<extra></extra>",
        ),
        row=1,
        col=3,
    )
    _layout(fig, height=max(180, 70 + 28 * len(rows)), barmode="stack", bargap=0.25, legend=False)
    fig.update_layout(margin={"l": 12, "r": 16, "t": 40, "b": 28})
    fig.update_yaxes(automargin=True, ticks="", showgrid=False)
    fig.update_annotations(font={"size": 11, "color": "#687080"})
    return fig


def models_chart(ctx: Context) -> go.Figure | str:
    rows = selectors.breakdown_by_model(project=ctx.project, since=ctx.since, **ctx.scope)
    if not rows:
        return f"No model calls in {ctx.time_range.label}."
    return _breakdown_figure(rows, "calls", "calls")


def prompts_chart(ctx: Context) -> go.Figure | str:
    rows = selectors.breakdown_by_prompt_version(project=ctx.project, since=ctx.since, **ctx.scope)
    if not rows:
        return (
            f"No LLM calls with a prompt version in {ctx.time_range.label}. Set llm.prompt_template.version "
            "(OpenInference), traceloop.prompt.version or a Langfuse prompt on the call's span."
        )
    return _breakdown_figure(rows, "calls", "calls")


def releases_chart(ctx: Context) -> go.Figure | str:
    rows = selectors.breakdown_by_release(project=ctx.project, since=ctx.since, **ctx.scope)
    if not rows:
        return f"No traces with a release in {ctx.time_range.label}. Set service.version on the resource."
    return _breakdown_figure(rows, "traces", "traces")


SCORE_BINS = 5
BIN_COLORS = ["#c8282e", "#e8743b", "#e0b400", "#7cb342", "#1a7f47"]  # low (red) to high (green)


def score_bins(values: list[float], bins: int = SCORE_BINS) -> list[int]:
    """How many values fall in each of ``bins`` equal slices of 0..1 (a 1.0 in the last; outliers clamped)."""
    counts = [0] * bins
    for v in values:
        counts[min(max(int(v * bins), 0), bins - 1)] += 1
    return counts


def eval_scores_chart(ctx: Context) -> go.Figure | str:
    """Each evaluator's scores as a 100% bar split into fifths of 0..1: binary rules and graded judges alike."""
    values = selectors.evaluator_score_values(project=ctx.project, since=ctx.since, **ctx.scope)
    if not values:
        return f"No evaluation scores in {ctx.time_range.label}."
    names = list(reversed(values))  # alphabetical from the top
    counts = {name: score_bins(values[name]) for name in names}
    fig = go.Figure()
    for b in range(SCORE_BINS):
        low, high = b / SCORE_BINS, (b + 1) / SCORE_BINS
        label = f"{low:.1f}-{high:.1f}"
        fig.add_trace(
            go.Bar(
                y=[f"{name} ({len(values[name])})" for name in names],
                x=[counts[name][b] / len(values[name]) * 100 for name in names],
                customdata=[counts[name][b] for name in names],
                orientation="h",
                name=label,
                marker_color=BIN_COLORS[b],
                hovertemplate=f"score {label}: " + "%{customdata} (%{x:.0f}%)<extra></extra>",
            )
        )
    _layout(fig, height=max(200, 90 + 30 * len(names)), barmode="stack", bargap=0.3)
    fig.update_layout(
        margin={"l": 12, "r": 16, "t": 12, "b": 36}, legend_title_text="score", legend_traceorder="normal"
    )
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(title_text="% of scores", range=[0, 100], dtick=25, ticksuffix="%")
    return fig


def eval_pass_rate_chart(ctx: Context) -> go.Figure | str:
    rows = selectors.evaluator_pass_rates(project=ctx.project, time_range=ctx.time_range, since=ctx.since, **ctx.scope)
    if not rows:
        return f"No pass/fail verdicts in {ctx.time_range.label}."
    by_evaluator: dict[str, list[dict]] = {}
    for row in rows:
        by_evaluator.setdefault(row["evaluator"], []).append(row)
    fig = go.Figure()
    for evaluator, points in by_evaluator.items():
        fig.add_trace(
            go.Scatter(
                x=[p["bucket"] for p in points],
                y=[p["passed_n"] / p["n"] * 100 for p in points],
                customdata=[[p["passed_n"], p["n"]] for p in points],
                name=evaluator,
                mode="lines+markers",
                marker={"size": 5},
                hovertemplate="%{fullData.name}: %{y:.0f}% (%{customdata[0]}/%{customdata[1]})<extra></extra>",
            )
        )
    _layout(fig)
    fig.update_yaxes(title_text="% passed", range=[-3, 103], ticksuffix="%")
    fig.update_xaxes(range=[ctx.since, ctx.now], showgrid=False)
    fig.update_layout(hovermode="closest")
    return fig


CHARTS: dict[str, ChartSpec] = {
    "traces": ChartSpec("Traces", traces_chart),
    "latency": ChartSpec("Latency p50 / p95", latency_chart),
    "error_rate": ChartSpec("Error rate", error_rate_chart),
    "tokens": ChartSpec("Tokens", tokens_chart),
    "cost": ChartSpec("Cost", cost_chart),
    "models": ChartSpec("By model", models_chart),
    "prompts": ChartSpec("By prompt version", prompts_chart),
    "releases": ChartSpec("By release", releases_chart),
    "eval_scores": ChartSpec("Evaluator score distribution", eval_scores_chart),
    "eval_pass_rate": ChartSpec("Evaluator pass rate", eval_pass_rate_chart),
}


# A click on a point opens the traces behind it (static/js/charts.js): the trace list with the point's time bucket
# and the page's filters; a series or bar that stands for a dimension value adds it (its ``meta``).
# chart name -> how its points map to the trace list: "time" (x is a bucket start) or a dimension whose value is
# the bar's label (y) over the whole range. Apps above insights add theirs (metrics' rollup charts).
CLICK_TARGETS: dict[str, str] = {
    "traces": "time", "latency": "time", "error_rate": "time", "tokens": "time", "cost": "time",
    "eval_pass_rate": "time", "models": "model", "releases": "release",
}  # fmt: skip


def _click_to_traces(name: str, ctx: Context, fig: go.Figure) -> None:
    from django.urls import reverse

    from insights.dashboard import iso

    target = CLICK_TARGETS.get(name)
    if target is None:
        return
    fig.update_layout(
        meta={
            "traces_url": reverse("traces:trace_list", args=[ctx.project.pk]),
            "query": dict(ctx.query.filter_params) if ctx.query else {},
            "step": int(ctx.time_range.step.total_seconds()),
            "axis": "x" if target == "time" else "y",
            "dim": "" if target == "time" else target,
            "start": iso(ctx.since),
            "end": iso(ctx.now),
        }
    )


# Apps above insights register charts in CHARTS / views.DASHBOARD_SECTIONS and callables(name, ctx, figure)
# here, run on every figure built (metrics draws deploy markers on the time series).
FIGURE_HOOKS: list[Callable[[str, Context, go.Figure], None]] = []


def render_chart(
    name: str, *, project: Project, range_key: str, now: datetime | None = None, params: Mapping | None = None
) -> Chart:
    """One chart as an HTML fragment (KeyError for an unknown name)."""
    from insights import dashboard

    spec = CHARTS[name]
    params = params.dict() if hasattr(params, "dict") else dict(params or {})  # a QueryDict: its last values
    query = dashboard.parse({**params, "range": range_key or params.get("range", "")}, now)
    ctx = Context(
        project=project,
        time_range=query.time_range,
        since=query.since,
        now=query.until,
        params=params,
        until=query.until if query.custom else None,
        filters=query.filters,
        query=query,
    )
    built = spec.build(ctx)
    controls = spec.controls(ctx) if spec.controls else ""
    if isinstance(built, str):
        if controls:  # the picker stays, so another choice can be made
            return Chart(
                name=name,
                title=spec.title,
                html=controls + format_html('<p class="chart-empty" data-chart="{}">{}</p>', name, built),
            )
        return Chart(name=name, title=spec.title, empty=built)
    for hook in FIGURE_HOOKS:
        hook(name, ctx, built)
    _click_to_traces(name, ctx, built)
    figure = json.loads(built.to_json())  # plotly's encoder turns numpy arrays and datetimes into JSON
    figure["config"] = CONFIG
    element_id = f"figure-{name}"
    html = json_script(figure, element_id) + format_html(
        '<div class="plotly-figure" data-figure="{}"></div>', element_id
    )
    return Chart(name=name, title=spec.title, html=controls + html)
