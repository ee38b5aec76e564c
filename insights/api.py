"""JSON API for insights: the ranked list, an insight's status, a trace's findings."""

from ninja import Path, Query, Router

from insights import selectors, services
from insights.models import Finding
from insights.schemas import Error, InsightListOut, InsightOut, InsightPatch, InsightQuery, TraceInsightsOut
from peekr_web.errors import NotFound
from peekr_web.schemas import Id, SafeStr
from traces import selectors as trace_selectors
from traces.access import Action, api_requires

router = Router(tags=["insights"])


def insight_out(item: selectors.RankedInsight) -> dict:
    i = item.insight
    return {
        **{f: getattr(i, f) for f in InsightOut.model_fields if hasattr(i, f) and f != "fix"},
        "id": i.pk,
        "fix": i.fix or None,
        "window_count": item.window_count,
        "saving_ms_per_day": item.saving_ms_per_day,
        "saving_usd_per_day": item.saving_usd_per_day,
        "examples": item.examples,
    }


def finding_out(f: Finding) -> dict:
    return {
        "id": f.pk,
        "insight_id": f.insight_id,
        "insight_status": f.insight.status,
        **{name: getattr(f, name) for name in (
            "signature", "detector", "severity", "title", "message", "span_ids", "operation", "parent_operation",
            "service", "endpoint", "saving_ms", "saving_usd", "details", "seen_at",
        )},
        "fix": f.fix or None,
    }  # fmt: skip


@router.get("/insights", response=InsightListOut, summary="List insights, ranked")
@api_requires(Action.VIEW_TRACES)
def list_insights(request, q: Query[InsightQuery]):
    """The project's insights, the largest time saving per day over the window first (`sort=money`: dollars).

    Filter by `status` (`active` = open or regressed), `detector`, `service`, or a search term `q`.
    """
    filters = selectors.InsightFilters(
        window=q.window, status=q.status, detector=q.detector, service=q.service, search=q.q, sort=q.sort
    )
    page = selectors.insights_ranked(project=request.project, filters=filters, limit=q.limit, offset=q.offset)
    return {
        "items": [insight_out(item) for item in page.items],
        "total": page.total,
        "window": page.window,
        "days": page.days,
    }


@router.patch("/insights/{insight_id}", response={200: InsightOut, 404: Error}, summary="Dismiss or fix an insight")
@api_requires(Action.MANAGE_RULES)
def update_insight(request, insight_id: Id, payload: InsightPatch):
    """`{"status": "dismissed"}`, `{"status": "fixed"}` (a later trace with it marks it regressed) or
    `{"status": "open"}`."""
    insight = selectors.insight_get(project=request.project, insight_id=insight_id)
    if insight is None:
        raise NotFound(f"insight {insight_id} not found")
    insight = services.insight_set_status(insight=insight, status=payload.status)
    return insight_out(selectors.insight_ranked(insight=insight))


@router.get("/traces/{trace_id}/insights", response={200: TraceInsightsOut, 404: Error}, summary="A trace's findings")
@api_requires(Action.VIEW_TRACES)
def trace_insights(request, trace_id: Path[SafeStr]):
    """What the detectors found in this trace, with their message text, spans, savings and fix."""
    trace = trace_selectors.trace_get(project=request.project, trace_id=trace_id)
    if trace is None:
        raise NotFound(f"trace {trace_id} not found")
    findings = selectors.trace_findings(trace=trace)
    return {"trace_id": trace.trace_id, "findings": [finding_out(f) for f in findings]}
