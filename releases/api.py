"""JSON API of releases: candidate vs baseline, and the verdict."""

from ninja import Query, Router, Schema, Status
from pydantic import Field

from peekr_web.errors import Invalid
from peekr_web.schemas import Error, SafeStr
from releases import selectors, verdict
from releases.schemas import CompareOut, UnknownVersionError
from traces.access import Action, api_requires

router = Router(tags=["releases"])


class CompareQuery(Schema):
    baseline: SafeStr = Field(max_length=100)
    candidate: SafeStr = Field(max_length=100)
    window: SafeStr = Field("24h", max_length=10, description="30m, 24h, 7d...: from 1h to 90d")


@router.get(
    "/releases/compare",
    response={200: CompareOut, 400: Error, 404: UnknownVersionError},
    summary="Compare a candidate release with its baseline",
)
@api_requires(Action.VIEW_TRACES)
def compare(request, q: Query[CompareQuery]):
    """The comparison table (traffic share, traces, per evaluator mean and pass rate, error rate, latency p95, cost
    per trace, thumbs-down and abandonment rates, side by side over the same window, from the rollups) and the
    verdict: pass, fail or not_enough_data, with each blocking check's test and figures. A version that was never
    seen answers 404 with the versions that exist; a window without traffic is not_enough_data, never a pass."""
    try:
        window = verdict.parse_window(q.window)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    try:
        return selectors.compare(project=request.project, baseline=q.baseline, candidate=q.candidate, window=window)
    except selectors.UnknownVersion as exc:
        detail = f"{exc}; versions: {', '.join(exc.versions) or 'none yet'}"
        return Status(404, {"code": "not_found", "detail": detail, "errors": [], "versions": exc.versions})
