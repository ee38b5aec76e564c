"""What an alert says, built once when it fires and stored on it: the same dict in the UI, the API and every
channel. Slack's blocks and the email's text are drawn from that dict (pure functions at the end).

    mean_24h, baseline_7d, sample_size (24 h), baseline_sample_size, delta, delta_pct, spread, z
    runbook_url                       as given, even if it is dead
    deploys                           the 72 h before the alert (metrics.selectors.deploys_between)
    worst_traces                      5, with links (metrics.selectors.worst_traces)
    moved_most                        {"dim", "value", "mean_24h", "baseline", "n", "text": "release 2.4.1: 0.61 vs 0.83"}
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse

from alerts import verdict
from alerts.models import Monitor
from metrics import selectors as metric_selectors
from metrics.accumulators import metric_def
from traces.models import Trace

DEPLOYS_BEFORE = timedelta(hours=72)
BREAKDOWN_DIMS = ("release", "model", "environment", "intent")
WORST_TRACES = 5


def absolute(path: str) -> str:
    return f"{settings.PEEKR_PUBLIC_URL}{path}"


def trace_url(project_id: int, trace_id: str) -> str:
    return absolute(reverse("traces:trace_detail", args=[project_id, trace_id]))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _deploys(monitor: Monitor, now: datetime) -> list[dict]:
    return [
        {
            "version": d.version,
            "environment": d.environment,
            "at": _iso(d.at),
            "description": d.description,
            "commit": d.commit,
        }
        for d in metric_selectors.deploys_between(project=monitor.project, start=now - DEPLOYS_BEFORE, end=now)
    ]


def _traces(monitor: Monitor, traces: list[Trace]) -> list[dict]:
    return [
        {
            "trace_id": t.trace_id,
            "name": t.name,
            "start_time": _iso(t.start_time),
            "release": t.release,
            "user_id": t.user_id,
            "cost": t.cost,
            "url": trace_url(monitor.project_id, t.trace_id),
        }
        for t in traces
    ]


def _moved_most(monitor: Monitor, baseline: float, windows: dict) -> dict | None:
    rows: dict[str, list] = {"now": [], "base": []}
    for which, (start, end) in (("now", windows["window"]), ("base", windows["baseline"])):
        for dim in BREAKDOWN_DIMS:
            for value, w in metric_selectors.metric_breakdown(
                project=monitor.project, metric=monitor.metric, dim=dim, start=start, end=end
            ):
                rows[which].append((dim, value, w.value, w.n))
    return verdict.moved_most(
        now_rows=rows["now"],
        base_rows=rows["base"],
        overall_baseline=baseline,
        direction=monitor.direction,
        min_n=max(1, monitor.min_sample // 3),
    )


def monitor_summary(monitor: Monitor) -> dict:
    definition = metric_def(monitor.metric)
    return {
        "id": monitor.pk,
        "name": monitor.name,
        "kind": monitor.kind,
        "metric": monitor.metric,
        "metric_label": definition.label if definition else monitor.metric,
        "unit": definition.unit if definition else "",
        "filter": monitor.filter,
        "direction": monitor.direction,
    }


def metric_payload(monitor: Monitor, figures: dict, now: datetime) -> dict:
    """The payload of a metric monitor's alert (figures: from services._metric_figures)."""
    v: verdict.Verdict = figures["verdict"]
    window, baseline = figures["window"], figures["baseline"]
    start, end = figures["windows"]["window"]
    worst = metric_selectors.worst_traces(
        project=monitor.project,
        metric=monitor.metric,
        filter=monitor.filter or None,
        start=start,
        end=end,
        limit=WORST_TRACES,
        higher_is_better=monitor.direction == Monitor.Direction.DOWN,
    )
    return {
        "monitor": monitor_summary(monitor),
        "verdict": v.band,
        "reason": v.reason,
        "mean_24h": window.value,
        "baseline_7d": baseline.value,
        "sample_size": window.n,
        "baseline_sample_size": baseline.n,
        "delta": v.delta,
        "delta_pct": (v.delta / baseline.value * 100) if baseline.value else None,
        "spread": v.spread,
        "z": v.z,
        "window": {"start": _iso(start), "end": _iso(end)},
        "baseline_window": {
            "start": _iso(figures["windows"]["baseline"][0]),
            "end": _iso(figures["windows"]["baseline"][1]),
        },
        "runbook_url": monitor.runbook_url,
        "deploys": _deploys(monitor, now),
        "worst_traces": _traces(monitor, worst),
        "moved_most": _moved_most(monitor, baseline.value, figures["windows"]),
    }


def user_cost_payload(monitor: Monitor, figures: dict, now: datetime) -> dict:
    """The payload of a per-user cost alert: the user's 24 h cost against their own daily baseline."""
    v: verdict.UserCostVerdict = figures["verdict"]
    start, end = figures["windows"]["window"]
    worst = list(
        Trace.objects.filter(
            project=monitor.project, user_id=v.user_id, start_time__gte=start, start_time__lt=end
        ).order_by("-cost")[:WORST_TRACES]
    )
    return {
        "monitor": monitor_summary(monitor),
        "verdict": v.band,
        "reason": v.reason,
        "mean_24h": v.cost_24h,
        "baseline_7d": v.baseline_daily,
        "sample_size": figures["traces_24h"],
        "baseline_sample_size": None,
        "delta": v.cost_24h - v.baseline_daily,
        "delta_pct": ((v.cost_24h - v.baseline_daily) / v.baseline_daily * 100) if v.baseline_daily else None,
        "spread": None,
        "z": None,
        "factor": v.ratio,
        "user_id": v.user_id,
        "window": {"start": _iso(start), "end": _iso(end)},
        "baseline_window": {
            "start": _iso(figures["windows"]["baseline"][0]),
            "end": _iso(figures["windows"]["baseline"][1]),
        },
        "runbook_url": monitor.runbook_url,
        "deploys": _deploys(monitor, now),
        "worst_traces": _traces(monitor, worst),
        "moved_most": {
            "dim": "user",
            "value": v.user_id,
            "mean_24h": v.cost_24h,
            "baseline": v.baseline_daily,
            "n": figures["traces_24h"],
            "text": f"user {v.user_id}: ${v.cost_24h:.2f} in 24 h vs ${v.baseline_daily:.2f} a day",
        },
    }


# --- Text forms of a payload (pure) ---


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "$":
        return f"${value:.4f}" if abs(value) < 1 else f"${value:,.2f}"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:.3f}"


def headline(message: dict) -> str:
    """One line: what fired, where, by how much."""
    p = message["payload"]
    m = p["monitor"]
    where = "".join(f" [{k}={v}]" for k, v in m["filter"].items())
    state = {"alert.fired": "FIRING", "alert.resolved": "RESOLVED", "alert.test": "TEST"}.get(message["event"], "")
    return (
        f"[{state}] {m['name']}{where}: {fmt(p['mean_24h'], m['unit'])} over 24 h vs baseline "
        f"{fmt(p['baseline_7d'], m['unit'])} (n={p['sample_size']})"
    )


def text_lines(message: dict) -> list[str]:
    """The payload as plain lines (the email's body, Slack's fallback text)."""
    p = message["payload"]
    m = p["monitor"]
    lines = [
        headline(message),
        "",
        f"Metric: {m['metric_label']} ({m['metric']}), bad direction: {m['direction']}",
        f"24 h mean: {fmt(p['mean_24h'], m['unit'])} (sample size {p['sample_size']})",
        f"7-day baseline: {fmt(p['baseline_7d'], m['unit'])}",
        f"Delta: {fmt(p['delta'], m['unit'])}"
        + (f" ({p['delta_pct']:+.1f} %)" if p.get("delta_pct") is not None else ""),
    ]
    if p.get("moved_most"):
        lines.append(f"Moved most: {p['moved_most']['text']}")
    lines.append(f"Runbook: {p['runbook_url'] or '(none)'}")
    lines.append("Deploys in the 72 h before:" if p["deploys"] else "Deploys in the 72 h before: none")
    lines += [f"  - {d['version']} {d['environment']} at {d['at']} {d['description']}".rstrip() for d in p["deploys"]]
    lines.append("Worst traces:" if p["worst_traces"] else "Worst traces: none")
    lines += [f"  - {t['url']}" for t in p["worst_traces"]]
    if message.get("alert_url"):
        lines += ["", f"Alert: {message['alert_url']}"]
    return lines


def slack_body(message: dict) -> dict:
    """A Slack incoming-webhook body (blocks with a text fallback), from the same payload."""
    if "slack" in message:  # another app's message (regressions) brings its own body
        return message["slack"]
    p = message["payload"]
    m = p["monitor"]
    delta = fmt(p["delta"], m["unit"]) + (f" ({p['delta_pct']:+.1f} %)" if p.get("delta_pct") is not None else "")
    fields = [
        f"*24 h mean*\n{fmt(p['mean_24h'], m['unit'])}",
        f"*7-day baseline*\n{fmt(p['baseline_7d'], m['unit'])}",
        f"*Sample size*\n{p['sample_size']}",
        f"*Delta*\n{delta}",
    ]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline(message)[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    details = []
    if p.get("moved_most"):
        details.append(f"*Moved most:* {p['moved_most']['text']}")
    runbook = p["runbook_url"]
    details.append(f"*Runbook:* <{runbook}>" if runbook else "*Runbook:* none")
    deploys = ", ".join(f"{d['version']} ({d['environment'] or 'any'}, {d['at']})" for d in p["deploys"]) or "none"
    details.append(f"*Deploys (72 h):* {deploys}")
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(details)}})
    if p["worst_traces"]:
        links = "\n".join(f"<{t['url']}|{t['trace_id'][:12]}> {t['name']}" for t in p["worst_traces"])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Worst traces:*\n{links}"}})
    if message.get("alert_url"):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{message['alert_url']}|Open in Peekr>"}]}
        )
    return {"text": "\n".join(text_lines(message)), "blocks": blocks}


def test_payload(monitor_like: dict | None = None) -> dict:
    """The payload of a "send test alert": made-up figures in the real shape."""
    return {
        "monitor": monitor_like
        or {"id": 0, "name": "Test alert", "kind": "metric", "metric": "score:faithfulness",
            "metric_label": "faithfulness score", "unit": "", "filter": {}, "direction": "down"},
        "verdict": "page",
        "reason": "a test alert sent from Peekr",
        "mean_24h": 0.61,
        "baseline_7d": 0.83,
        "sample_size": 1200,
        "baseline_sample_size": 8400,
        "delta": -0.22,
        "delta_pct": -26.5,
        "spread": 0.02,
        "z": 11.0,
        "window": {"start": None, "end": None},
        "baseline_window": {"start": None, "end": None},
        "runbook_url": "https://example.com/runbooks/faithfulness",
        "deploys": [],
        "worst_traces": [],
        "moved_most": None,
    }  # fmt: skip
