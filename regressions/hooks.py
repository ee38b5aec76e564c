"""What opens a regression: hooks registered into the apps below (they import nothing from here).

    releases.services.VERDICT_HOOKS       (project, comparison)  a canary verdict that FAILED
    annotations.services.REGRESS_FAILED_HOOKS  (run)              a peekr_regress run that failed
    alerts.services.ALERT_FIRED_HOOKS     (alert)                 a monitor paged (after commit)

Each hook turns its source into regression_open calls. A hook never raises into its caller: a regression that
cannot be opened is logged, and the verdict, the run or the alert stands.
"""

from __future__ import annotations

import functools
import json
import logging
from urllib.parse import urlencode

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import NoReverseMatch, reverse

from regressions import services
from regressions.models import Regression
from regressions.severity import relative_drop, severity_for

log = logging.getLogger(__name__)


def _guarded(hook):
    @functools.wraps(hook)
    def run(*args):
        try:
            hook(*args)
        except Exception:
            log.exception("regressions: %s could not open a regression", hook.__name__)

    return run


def register() -> None:
    """Register into every hook list that exists (an app that is not installed has none)."""
    from alerts import services as alert_services

    _add(getattr(alert_services, "ALERT_FIRED_HOOKS", None), on_alert_fired)
    try:
        from annotations import services as review_services
    except ImportError:  # pragma: no cover
        review_services = None
    _add(getattr(review_services, "REGRESS_FAILED_HOOKS", None), on_regress_failed)
    try:
        from releases import services as release_services
    except ImportError:
        release_services = None
    _add(getattr(release_services, "VERDICT_HOOKS", None), on_verdict_failed)


def _add(hooks: list | None, hook) -> None:
    if hooks is not None and not any(getattr(h, "__wrapped__", None) is hook for h in hooks):
        hooks.append(_guarded(hook))


# --- A paging alert ---


def alert_release(payload: dict) -> str:
    """The release most likely to blame: the one that moved most, else the newest deploy before the alert."""
    moved = payload.get("moved_most") or {}
    if moved.get("dim") == "release" and moved.get("value"):
        return str(moved["value"])
    deploys = [d for d in payload.get("deploys") or [] if d.get("version")]
    return max(deploys, key=lambda d: d.get("at") or "")["version"] if deploys else ""


def on_alert_fired(alert) -> None:
    monitor = alert.monitor
    p = alert.payload or {}
    kind = "semantic" if monitor.metric.startswith(("score:", "pass:")) else "metric"
    drop = abs(p["delta_pct"]) / 100 if p.get("delta_pct") is not None else None
    release = alert_release(p)
    services.regression_open(
        project=alert.project,
        source=Regression.Source.ALERT,
        key=f"monitor:{monitor.pk}",
        title=f"{monitor.name}: {p.get('reason') or 'paged'}",
        severity=severity_for(kind=kind, drop=drop),
        release=release,
        evaluator=monitor.metric,
        drop=drop,
        details={k: p.get(k) for k in ("mean_24h", "baseline_7d", "sample_size", "delta", "delta_pct", "z", "reason")},
        trace_ids=[t["trace_id"] for t in p.get("worst_traces") or [] if t.get("trace_id")],
        alert=alert,
        source_url=reverse("alerts:alert_detail", args=[alert.project_id, alert.pk]),
        now=alert.opened_at,
    )


# --- A failed peekr_regress run ---


def _run_release(run) -> str:
    return str(getattr(run, "release", "") or run.model or run.name or "")


def on_regress_failed(run) -> None:
    """One regression per golden set (key `golden:<set>`); the failing graders and cases in its details, the
    failed cases' source traces as its examples. Deterministic graders failing make it deterministic."""
    from annotations.regress import SEMANTIC

    golden_set = run.version.golden_set
    results = list(run.results.select_related("item").filter(passed=False).order_by("pk"))
    total = run.summary.get("total") or run.results.count() or 1
    failing: dict[str, int] = {}
    for r in results:
        for g in r.grader_results or []:
            if g.get("passed") is False and g.get("blocking", True):
                failing[g["grader"]] = failing.get(g["grader"], 0) + 1
    deterministic = any(g not in SEMANTIC for g in failing)
    drop = len(results) / total
    services.regression_open(
        project=golden_set.project,
        source=Regression.Source.REGRESS_RUN,
        key=f"golden:{golden_set.name}"[:200],
        title=f"peekr_regress on {golden_set.name}: {len(results)}/{total} cases failed"
        + (f" ({', '.join(sorted(failing))})" if failing else ""),
        severity=severity_for(kind="deterministic" if deterministic else "semantic", drop=drop),
        release=_run_release(run),
        evaluator=", ".join(sorted(failing))[:200],
        drop=drop,
        details={
            "run_id": run.pk,
            "golden_set": golden_set.name,
            "version": run.version.number,
            "target": run.target,
            "model": run.model,
            "failing_graders": failing,
            "failed_cases": [r.item.case_id for r in results][:50],
        },  # fmt: skip
        trace_ids=[r.item.source_trace_id for r in results if r.item.source_trace_id],
        regression_run=run,
        source_url=reverse("annotations:golden_runs", args=[golden_set.project_id, golden_set.pk]),
        now=run.finished_at,
    )


# --- A failed canary verdict ---


def _version(side) -> str:
    return str((side.get("version") if isinstance(side, dict) else side) or "")


def _check_drop(check: dict) -> float | None:
    """Deterministic: the share of the candidate's scored answers that failed. Semantic: the largest relative
    drop among the check's tests (pass rate, mean score)."""
    tests = [t for t in check.get("tests") or [] if isinstance(t, dict)]
    if check.get("kind") == "deterministic":
        rates = [t["candidate"] for t in tests if isinstance(t.get("candidate"), int | float)]
        return max(0.0, 1.0 - min(rates)) if rates else None
    drops = [d for t in tests if (d := relative_drop(t.get("baseline"), t.get("candidate"))) is not None]
    return max(drops) if drops else None


def on_verdict_failed(project, comparison: dict) -> None:
    """One regression per failing check of the verdict (key `evaluator:<name>`) on the candidate release; the
    check's example traces (the candidate's worst) linked."""
    baseline, candidate = _version(comparison.get("baseline")), _version(comparison.get("candidate"))
    window = comparison.get("window") or {}
    for check in (comparison.get("verdict") or {}).get("checks") or []:
        if check.get("status") != "fail":
            continue
        name = str(check.get("evaluator") or "verdict")
        kind = "deterministic" if check.get("kind") == "deterministic" else "semantic"
        drop = _check_drop(check)
        services.regression_open(
            project=project,
            source=Regression.Source.VERDICT,
            key=f"evaluator:{name}"[:200],
            title=f"{name} ({kind}) failed on {candidate or 'the candidate'}: {check.get('reason') or 'verdict failed'}",
            severity=severity_for(kind=kind, drop=drop),
            release=candidate,
            baseline_release=baseline,
            evaluator=name,
            drop=drop,
            details=json.loads(
                json.dumps(
                    {
                        "baseline": baseline,
                        "candidate": candidate,
                        "window_hours": window.get("hours"),
                        "window_end": window.get("end"),
                        "reason": check.get("reason"),
                        "tests": check.get("tests"),
                        "threshold": check.get("threshold"),
                    },
                    cls=DjangoJSONEncoder,
                )
            ),  # fmt: skip
            trace_ids=[str(t["trace_id"]) for t in check.get("examples") or [] if t.get("trace_id")],
            source_url=_releases_url(project, baseline, candidate),
        )


def _releases_url(project, baseline: str, candidate: str) -> str:
    """The Releases page comparing the two (the API's compare when that page is not installed)."""
    query = urlencode({"baseline": baseline, "candidate": candidate})
    try:
        return f"{reverse('releases:release_list', args=[project.pk])}?{query}"
    except NoReverseMatch:
        return f"/api/v1/releases/compare?{query}"
