"""The rollup charts on the Dashboards page, and deploy markers on every time-series chart.

The Dashboards page belongs to insights, which sits below metrics: `register()` (from MetricsConfig.ready)
adds these charts to insights.charts.CHARTS and a section to insights.views.DASHBOARD_SECTIONS, and a figure
hook that draws each deploy of the range as a vertical line. The charts read rollups only (metrics.selectors),
by the hour up to 7 days and by the day beyond, so 90 days read as few rows per series as 90 hours would.
"""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from metrics import selectors
from metrics.accumulators import SIGNAL_RATES, metric_def

SECTION = "Production metrics"
TIME_SERIES = {"traces", "latency", "error_rate", "tokens", "cost", "eval_pass_rate"}  # insights' own
DEFAULT_SPLIT_METRIC = "error_rate"
MAX_MARKERS = 40
MARKER_COLOR = "#8a5a00"


def _window(ctx) -> tuple[datetime, datetime, str]:
    start = ctx.since.replace(minute=0, second=0, microsecond=0)
    return start, ctx.now, "day" if ctx.time_range.unit == "day" else "hour"


ROLLUP_DIMS = ("release", "model", "environment")  # the trace filters a rollup can answer: one, equal to a value


def rollup_filter(ctx) -> tuple[dict | None, list[str]]:
    """The one dimension filter the rollups can apply ({"model": "gpt-4o"}), and the filters set that they cannot
    (any other filter, a second dimension, a dimension matched other than by equality): rollups are kept per
    hour and per value of one dimension, never per trace attribute."""
    used = dict(getattr(ctx.query, "filter_params", None) or {})
    ops = getattr(ctx.filters, "ops", None) or {}
    applied: dict | None = None
    left_out = []
    for name, value in used.items():
        if applied is None and name in ROLLUP_DIMS and ops.get(name, "eq") in ("", "eq"):
            applied = {name: value}
        else:
            left_out.append(name)
    return applied, left_out


def rollup_note(ctx) -> str:
    """Above a rollup chart: the filters it could not apply, so nobody reads a filtered chart that is not."""
    _, left_out = rollup_filter(ctx)
    if not left_out:
        return ""
    return format_html(
        '<p class="small muted rollup-note" data-left-out="{}">Not applied to this chart: {}. It reads hourly '
        "rollups, kept per release, model and environment (one at a time), not per trace.</p>",
        ",".join(left_out),
        ", ".join(left_out),
    )


def _many(ctx, metrics: list[str]) -> dict:
    start, end, bucket = _window(ctx)
    applied, _ = rollup_filter(ctx)
    return selectors.metric_series_many(
        project=ctx.project, metrics=metrics, filter=applied, start=start, end=end, bucket=bucket
    )


def _scale(metric: str, value: float | None) -> float | None:
    unit = metric_def(metric).unit
    return None if value is None else value * 100 if unit == "%" else value


def _line(metric: str, points, name: str, **kw) -> go.Scatter:
    return go.Scatter(
        x=[p.at for p in points],
        y=[_scale(metric, p.value) for p in points],
        customdata=[p.n for p in points],
        name=name,
        mode="lines+markers",
        marker={"size": 4},
        hovertemplate="%{fullData.name}: %{y:.3~f} (n=%{customdata})<extra></extra>",
        **kw,
    )


def _figure(ctx, traces: list[go.Scatter], y_title: str, suffix: str = "") -> go.Figure:
    from insights.charts import _layout, _time_axis

    fig = go.Figure(traces)
    _layout(fig)
    fig.update_yaxes(title_text=y_title, rangemode="tozero", ticksuffix=suffix)
    return _time_axis(fig, ctx)


def ttft_tpot_chart(ctx) -> go.Figure | str:
    series = _many(ctx, ["ttft_ms", "tpot_ms"])
    ttft, tpot = series["ttft_ms"], series["tpot_ms"]
    if not ttft and not tpot:
        return f"No model calls reporting a time to first token in {ctx.time_range.label}."
    fig = _figure(ctx, [_line("ttft_ms", ttft, "time to first token (ms)")], "TTFT ms")
    fig.add_trace(_line("tpot_ms", tpot, "time per output token (ms)", yaxis="y2", line={"dash": "dot"}))
    fig.update_layout(yaxis2={"title": "TPOT ms", "overlaying": "y", "side": "right", "rangemode": "tozero"})
    return fig


def cost_per_task_chart(ctx) -> go.Figure | str:
    series = _many(ctx, ["cost_per_successful_task", "cost_per_trace"])
    task, trace = series["cost_per_successful_task"], series["cost_per_trace"]
    if not task and not any(p.value for p in trace):
        return f"No priced traces in {ctx.time_range.label}."
    return _figure(
        ctx,
        [_line("cost_per_successful_task", task, "per successful task"), _line("cost_per_trace", trace, "per trace")],
        "USD",
    )


def signal_rates_chart(ctx) -> go.Figure | str:
    series = _many(ctx, [f"{kind}_rate" for kind in SIGNAL_RATES])
    lines = []
    for kind in SIGNAL_RATES:
        metric = f"{kind}_rate"
        points = series[metric]
        if any(p.value for p in points):
            lines.append(_line(metric, points, kind.replace("_", " ")))
    if not lines:
        return f"No user signals in {ctx.time_range.label}."
    return _figure(ctx, lines, "% of traces", "%")


def _split_metric(ctx) -> str:
    metric = ctx.params.get("metric") or DEFAULT_SPLIT_METRIC
    return metric if metric_def(metric) is not None and metric != "cost_per_user" else DEFAULT_SPLIT_METRIC


def _split_dim(ctx) -> str:
    split = ctx.params.get("split") or "release"
    return split if split in ROLLUP_DIMS else "release"


def metric_by_release_chart(ctx) -> go.Figure | str:
    """Any metric, one line per release, model or environment (``split``; release by default)."""
    metric = _split_metric(ctx)
    dim = _split_dim(ctx)
    start, end, bucket = _window(ctx)
    releases = selectors.metric_series_split(
        project=ctx.project, metric=metric, dim=dim, start=start, end=end, bucket=bucket
    )
    wanted = (getattr(ctx.query, "filter_params", None) or {}).get(dim)
    if wanted:  # a filter on the split's own dimension keeps its line
        releases = [(value, points) for value, points in releases if value == wanted]
    if not releases:
        return f"No traces with a {dim} and {metric_def(metric).label.lower()} in {ctx.time_range.label}."
    lines = [_line(metric, points, value, meta={dim: value}) for value, points in releases]
    unit = metric_def(metric).unit
    return _figure(ctx, lines, metric_def(metric).label, "%" if unit == "%" else "")


def metric_picker(ctx) -> str:
    """The metric and the split of the split chart: selects that reload the chart body with htmx (the page's
    range and filters ride along as hidden fields)."""
    chosen, split = _split_metric(ctx), _split_dim(ctx)
    url = reverse("insights:dashboard_chart", args=[ctx.project.pk, "metric_by_release"])
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (m.key, " selected" if m.key == chosen else "", m.label)
            for m in selectors.metric_choices(ctx.project)
            if m.key != "cost_per_user"
        ),
    )
    splits = format_html_join(
        "", '<option value="{}"{}>{}</option>', ((d, " selected" if d == split else "", d) for d in ROLLUP_DIMS)
    )
    hidden = format_html_join(
        "",
        '<input type="hidden" name="{}" value="{}">',
        ((k, v) for k, v in ctx.params.items() if k not in ("metric", "split") and v),
    )
    return format_html(
        '<form class="chart-controls" action="{}" hx-get="{}" hx-trigger="change" hx-target="closest .chart-body">'
        '{}<label>Metric <select name="metric">{}</select></label> <label>Split by <select name="split">{}</select>'
        "</label></form>{}",
        url,
        url,
        hidden,
        options,
        splits,
        split_note(ctx),
    )


def split_note(ctx) -> str:
    """The split chart reads one dimension's rows: a filter on that dimension keeps its line; others cannot apply."""
    split = _split_dim(ctx)
    left_out = [k for k in (getattr(ctx.query, "filter_params", None) or {}) if k != split]
    if not left_out:
        return ""
    return format_html(
        '<p class="small muted rollup-note" data-left-out="{}">Not applied to this chart: {}. It reads hourly '
        "rollups of one dimension at a time ({}), not per trace.</p>",
        ",".join(left_out),
        ", ".join(left_out),
        split,
    )


def deploy_markers(name: str, ctx, fig: go.Figure) -> None:
    """A dashed vertical line and the version at each deploy of the range, on every time-series chart."""
    if name not in TIME_SERIES and name not in CHARTS:
        return
    deploys = selectors.deploys_between(project=ctx.project, start=ctx.since, end=ctx.now)[:MAX_MARKERS]
    add_deploy_markers(fig, deploys, span=ctx.now - ctx.since)


def add_deploy_markers(fig: go.Figure, deploys, *, span, color: str = MARKER_COLOR) -> None:
    """Deploys as dashed lines with their version on top. Deploys closer together than 1/40 of the range share
    one line and one label ("3 deploys", the versions on hover), so labels never pile up on each other."""
    groups: list[list] = []
    for deploy in sorted(deploys, key=lambda d: d.at):
        if groups and deploy.at - groups[-1][0].at < span / 40:
            groups[-1].append(deploy)
        else:
            groups.append([deploy])
    for group in groups:
        at = group[0].at
        labels = [d.version + (f" ({d.environment})" if d.environment else "") for d in group]
        text = f"deploy {labels[0]}" if len(group) == 1 else f"{len(group)} deploys"
        fig.add_shape(
            type="line",
            x0=at,
            x1=at,
            xref="x",
            yref="paper",
            y0=0,
            y1=1,
            line={"color": color, "width": 1, "dash": "dash"},
            name=text,
        )
        fig.add_annotation(
            x=at,
            xref="x",
            y=1,
            yref="paper",
            text=text,
            hovertext="<br>".join(
                f"{d.at:%Y-%m-%d %H:%M} UTC  {label}" for d, label in zip(group, labels, strict=True)
            ),
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 10, "color": color},
        )


CHARTS = {
    "ttft_tpot": ("TTFT and time per output token", ttft_tpot_chart, None),
    "cost_per_task": ("Cost per successful task", cost_per_task_chart, None),
    "signal_rates": ("User signal rates", signal_rates_chart, None),
    "metric_by_release": ("Any metric, split by release, model or environment", metric_by_release_chart, metric_picker),
}


def register() -> None:
    from insights import charts as insight_charts
    from insights import views as insight_views

    for name, (title, build, controls) in CHARTS.items():
        insight_charts.CHARTS.setdefault(name, insight_charts.ChartSpec(title, build, controls or rollup_note))
        insight_charts.CLICK_TARGETS.setdefault(name, "time")
    if not any(title == SECTION for title, _ in insight_views.DASHBOARD_SECTIONS):
        insight_views.DASHBOARD_SECTIONS.append((SECTION, list(CHARTS)))
    if deploy_markers not in insight_charts.FIGURE_HOOKS:
        insight_charts.FIGURE_HOOKS.append(deploy_markers)
