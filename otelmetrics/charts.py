"""The OTLP metrics SDKs export (gen_ai.client.token.usage, gen_ai.client.operation.duration, time to first
token...), by model, on the Dashboards page next to the trace-derived charts.

The page belongs to insights and the points to traces; this app sits above both and only draws: `register()`
(from OtelMetricsConfig.ready) adds the charts to insights.charts.CHARTS and a section to
insights.views.DASHBOARD_SECTIONS. Cumulative points become per-interval figures in traces.metric_points.
"""

from __future__ import annotations

import plotly.graph_objects as go
from django.utils.html import format_html
from plotly.subplots import make_subplots

from traces.metric_points import metric_series, metric_tally

SECTION = "OTLP metrics"
TOKENS = "gen_ai.client.token.usage"
LATENCY = (
    ("gen_ai.client.operation.duration", "operation duration"),
    ("gen_ai.server.time_to_first_token", "time to first token"),
    ("gen_ai.server.request.duration", "server request duration"),
)


def _dropped_note(ctx) -> str:
    """Safe HTML: how many points of other metrics were accepted and dropped, and which."""
    tally = metric_tally(project=ctx.project)
    if tally is None or not tally.dropped_points:
        return ""
    names = ", ".join(tally.dropped_names[:8]) + (" …" if len(tally.dropped_names) > 8 else "")
    return format_html(
        '<p class="small muted">{} point(s) of other metrics accepted and not kept ({}). Peekr keeps gen_ai.* and '
        "llm.* metrics.</p>",
        f"{tally.dropped_points:,}",
        names,
    )


def tokens_chart(ctx) -> go.Figure | str:
    series = metric_series(
        project=ctx.project, name=TOKENS, since=ctx.since, step=ctx.time_range.step, by_token_type=True
    )
    if not series:
        return f"No {TOKENS} points in {ctx.time_range.label}: send OTLP metrics to /v1/metrics (or gRPC :4317)."
    fig = go.Figure()
    for label, buckets in sorted(series.items()):
        xs = sorted(buckets)
        fig.add_trace(go.Bar(x=xs, y=[buckets[x].sum for x in xs], name=label))
    _style(fig, ctx, barmode="stack")
    fig.update_yaxes(title_text="tokens", rangemode="tozero")
    return fig


def latency_chart(ctx) -> go.Figure | str:
    found = [
        (title, metric_series(project=ctx.project, name=name, since=ctx.since, step=ctx.time_range.step))
        for name, title in LATENCY
    ]
    found = [(title, series) for title, series in found if series]
    if not found:
        return f"No GenAI duration metrics in {ctx.time_range.label}."
    fig = make_subplots(rows=len(found), cols=1, shared_xaxes=True, subplot_titles=[t for t, _ in found])
    for row, (_, series) in enumerate(found, start=1):
        for label, buckets in sorted(series.items()):
            xs = [x for x in sorted(buckets) if buckets[x].count]
            ys = [buckets[x].sum / buckets[x].count for x in xs]
            fig.add_trace(go.Scatter(x=xs, y=ys, name=label, mode="lines+markers", showlegend=row == 1), row=row, col=1)
        fig.update_yaxes(title_text="mean, s", rangemode="tozero", row=row, col=1)
    _style(fig, ctx, height=220 * len(found))
    return fig


def _style(fig: go.Figure, ctx, **kw) -> None:
    from insights.charts import _layout, _time_axis  # the Dashboards page's look

    _layout(fig, **kw)
    _time_axis(fig, ctx)


CHARTS = {
    "otlp_tokens": ("Token usage by model (OTLP metrics)", tokens_chart, _dropped_note),
    "otlp_latency": ("GenAI durations by model (OTLP metrics)", latency_chart, None),
}


def register() -> None:
    from insights import charts as insight_charts
    from insights import views as insight_views

    for name, (title, build, controls) in CHARTS.items():
        insight_charts.CHARTS.setdefault(name, insight_charts.ChartSpec(title, build, controls))
    if not any(title == SECTION for title, _ in insight_views.DASHBOARD_SECTIONS):
        insight_views.DASHBOARD_SECTIONS.append((SECTION, list(CHARTS)))
