"""Reads of releases: candidate vs baseline over a window, from the rollups only (never spans), and shadow pairs.

A side is read from dim "release" (production traffic: a canary's share of real users) when the version has
production traffic in the window, else from dim "shadow_release" (a candidate answering copies of real
requests). Whole UTC days come from day rows, the ragged edges from hour rows, so the comparison costs the same
for 1,000 traces or 1,000,000 (bench/canary.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models.functions import Substr
from django.utils import timezone

from alerts.payload import trace_url
from evals import selectors as eval_selectors
from metrics import selectors as metric_selectors
from metrics.accumulators import metric_def, metric_value
from metrics.contribution import SHADOW_DIM
from releases import verdict
from traces.models import Project, Span, Trace

TABLE_METRICS = ("error_rate", "latency_p95_ms", "cost_per_trace", "thumbs_down_rate", "abandonment_rate")
EXAMPLES = 5


class UnknownVersion(LookupError):
    def __init__(self, unknown: list[str], versions: list[str]) -> None:
        super().__init__(f"unknown version {', '.join(unknown)}")
        self.unknown, self.versions = unknown, versions


def _side(project: Project, version: str, start: datetime, end: datetime) -> dict:
    traces, data = metric_selectors.rollup_totals(project=project, dim="release", value=version, start=start, end=end)
    if traces:
        return {"version": version, "traffic": "production", "dim": "release", "traces": traces, "data": data}
    traces, data = metric_selectors.rollup_totals(project=project, dim=SHADOW_DIM, value=version, start=start, end=end)
    traffic = "shadow" if traces else "production"
    return {"version": version, "traffic": traffic, "dim": SHADOW_DIM if traces else "release", "traces": traces,
            "data": data}  # fmt: skip


def _row(key: str, b: dict, c: dict, blocking: set[str]) -> dict:
    definition = metric_def(key)
    bv, bn = metric_value(key, b["data"])
    cv, cn = metric_value(key, c["data"])
    return {
        "key": key,
        "label": definition.label,
        "unit": definition.unit,
        "higher_is_better": definition.higher_is_better,
        "baseline": bv,
        "baseline_n": bn,
        "candidate": cv,
        "candidate_n": cn,
        "delta": (cv - bv) if bv is not None and cv is not None else None,
        "blocking": key.partition(":")[2] in blocking,
    }


def compare(*, project: Project, baseline: str, candidate: str, window: timedelta, now: datetime | None = None) -> dict:
    """The comparison table and the verdict of candidate vs baseline over [now - window, now).

    Raises UnknownVersion (with the versions that exist) when either was never seen."""
    versions = metric_selectors.release_versions(project=project)
    unknown = [v for v in dict.fromkeys([baseline, candidate]) if v not in versions]
    if unknown:
        raise UnknownVersion(unknown, versions)
    end = now or timezone.now()
    start = end - window
    hours = window.total_seconds() / 3600
    total = sum(metric_selectors.rollup_traces(project=project, dim="all", start=start, end=end).values())
    b, c = _side(project, baseline, start, end), _side(project, candidate, start, end)
    for side in (b, c):
        side["share"] = side["traces"] / total if side["traffic"] == "production" and total else None
    checks = eval_selectors.blocking_evaluators(project)
    result = verdict.evaluate(
        verdict.Side(b["traces"], b["data"], hours), verdict.Side(c["traces"], c["data"], hours), checks
    )
    blocking = {name for name, _, _ in checks}
    evaluators = sorted({k for side in (b, c) for k in side["data"] if k.startswith(("score:", "pass:"))})
    evaluators = sorted(evaluators, key=lambda k: (k.partition(":")[2], k))
    rows = [_row(k, b, c, blocking) for k in evaluators] + [_row(k, b, c, blocking) for k in TABLE_METRICS]
    for check in result["checks"]:
        check["examples"] = _examples(project, check, c, start, end) if check["status"] == verdict.FAIL else []
    return {
        "baseline": {k: v for k, v in b.items() if k != "data"},
        "candidate": {k: v for k, v in c.items() if k != "data"},
        "window": {"start": start, "end": end, "hours": hours},
        "project_traces": total,
        "rows": rows,
        "verdict": result,
    }


def _examples(project: Project, check: dict, side: dict, start: datetime, end: datetime) -> list[dict]:
    """The candidate's worst traces on a failed check (metrics.selectors.worst_traces with a release filter)."""
    kind = "pass" if check["kind"] == "deterministic" else check["tests"][0]["key"].partition(":")[0]
    limit = EXAMPLES
    if check["kind"] == "deterministic":
        limit = max(1, min(EXAMPLES, check["tests"][0].get("failures") or 0))
    traces = metric_selectors.worst_traces(
        project=project,
        metric=f"{kind}:{check['evaluator']}",
        filter={side["dim"]: side["version"]},
        start=start - timedelta(hours=1),  # contributions are keyed by their hour: the window's first one too
        end=end,
        limit=limit,
    )
    return [{"trace_id": t.trace_id, "name": t.name, "url": trace_url(project.pk, t.trace_id)} for t in traces]


def release_list(*, project: Project, start: datetime, end: datetime) -> list[dict]:
    """Every release seen in production traffic, deploys or shadow traffic (metrics.selectors.releases, plus the
    shadow-only ones), newest first."""
    rows = metric_selectors.releases(project=project, start=start, end=end)
    shadow = metric_selectors.rollup_traces(project=project, dim=SHADOW_DIM, start=start, end=end)
    for row in rows:
        row["shadow_traces"] = shadow.pop(row["version"], 0)
    rows += [
        {"version": v, "first_seen": None, "traces": 0, "deploys": [], "metrics": {}, "shadow_traces": n}
        for v, n in sorted(shadow.items())
        if v
    ]
    return rows


def shadow_pairs(*, project: Project, version: str, limit: int = 20) -> list[dict]:
    """The newest shadow answers of a release that carry a request key, each with its production twin (the
    production trace of the same key), both answers and both traces' scores: four queries."""
    from evals.models import Score

    shadows = list(
        Trace.objects.filter(project=project, traffic="shadow", release=version)
        .exclude(request_key="")
        .order_by("-start_time", "-id")[:limit]
    )
    keys = {t.request_key for t in shadows}
    twins: dict[str, Trace] = {}
    for t in (
        Trace.objects.filter(project=project, request_key__in=keys, traffic="production")
        .order_by("request_key", "-start_time")
        .only("trace_id", "name", "release", "request_key", "start_time", "output_preview", "status", "duration_ms")
    ):
        twins.setdefault(t.request_key, t)
    pks = [t.pk for t in shadows] + [t.pk for t in twins.values()]
    scores: dict[int, list[dict]] = {}
    for s in (
        Score.objects.filter(trace_id__in=pks, status=Score.Status.DONE)
        .exclude(source=Score.Source.FEEDBACK)
        .order_by("evaluator", "pk")
        .values("trace_id", "evaluator", "value", "passed", "mode")
    ):
        scores.setdefault(s["trace_id"], []).append(s)
    answers: dict[int, str] = {}  # the model's answer when the root says nothing: its last LLM call's output
    for trace_pk, text in (
        Span.objects.filter(trace_id__in=pks, kind="llm")
        .order_by("trace_id", "start_time")
        .annotate(text=Substr("output_text", 1, 300))
        .values_list("trace_id", "text")
    ):
        answers[trace_pk] = text
    for t in [*shadows, *twins.values()]:
        t.answer = t.output_preview or answers.get(t.pk, "")
    out = []
    for t in shadows:
        twin = twins.get(t.request_key)
        out.append(
            {
                "request_key": t.request_key,
                "shadow": t,
                "shadow_scores": scores.get(t.pk, []),
                "production": twin,
                "production_scores": scores.get(twin.pk, []) if twin else [],
            }
        )
    return out
