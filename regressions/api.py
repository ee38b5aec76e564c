"""JSON API of regressions: list (filters, paginated), file one by hand, read one with its history, change it.

The key acts for its project; another project's regression answers 404. An owner who is not a member of the
project, or a status that cannot follow the current one, answers 400 with the reason.
"""

from ninja import Query, Router, Status

from peekr_web.errors import NotFound
from peekr_web.schemas import Id
from regressions import notify, selectors, services
from regressions.models import Regression
from regressions.schemas import Error, RegressionIn, RegressionListOut, RegressionOut, RegressionPatch, RegressionQuery
from traces.access import Action, api_requires

router = Router(tags=["regressions"])


def regression_out(r: Regression, *, events: bool = False) -> dict:
    return {
        **{f: getattr(r, f) for f in (
            "title", "severity", "status", "source", "evaluator", "release", "baseline_release", "releases",
            "alert_id", "regression_run_id", "source_url", "drop", "details", "trace_ids", "occurrences",
            "created_at", "updated_at", "last_seen_at", "fixed_at",
        )},
        "id": r.pk,
        "owner": r.owner.username if r.owner_id else None,
        "url": notify.regression_url(r),
        "events": [
            {"at": e.at, "user": e.user.username if e.user else None, "kind": e.kind, "note": e.note,
             "changes": e.changes}
            for e in r.events.all()
        ] if events else None,
    }  # fmt: skip


def _regression(request, regression_id: int) -> Regression:
    found = selectors.regression_get(project=request.project, regression_id=regression_id)
    if found is None:
        raise NotFound(f"no regression {regression_id}")
    return found


@router.get("/regressions", response=RegressionListOut, summary="List regressions")
@api_requires(Action.VIEW_TRACES)
def list_regressions(request, q: Query[RegressionQuery]):
    """Open and investigating ones first, then by severity, newest first. Filter by `status` (`active` = open or
    investigating), `severity`, `release`, `source`, `owner`; page with `limit` / `offset`."""
    qs = selectors.regressions(
        project=request.project, status=q.status, severity=q.severity, release=q.release, source=q.source,
        owner=q.owner,
    )  # fmt: skip
    return {
        "items": [regression_out(r) for r in qs[q.offset : q.offset + q.limit]],
        "total": qs.count(),
        "limit": q.limit,
        "offset": q.offset,
    }


@router.post("/regressions", response={201: RegressionOut, 400: Error}, summary="File a regression")
@api_requires(Action.MANAGE_RULES)
def create_regression(request, payload: RegressionIn):
    """A regression filed by hand (the others are opened by failed verdicts, peekr_regress runs and pages); the
    project's webhook and Slack channels are told."""
    regression = services.regression_create(project=request.project, **payload.dict())
    return Status(201, regression_out(_regression(request, regression.pk), events=True))


@router.get("/regressions/{regression_id}", response={200: RegressionOut, 404: Error}, summary="A regression")
@api_requires(Action.VIEW_TRACES)
def get_regression(request, regression_id: Id):
    """The regression with its history (who, when, what)."""
    return regression_out(_regression(request, regression_id), events=True)


@router.patch(
    "/regressions/{regression_id}", response={200: RegressionOut, 400: Error, 404: Error}, summary="Change a regression"
)
@api_requires(Action.MANAGE_RULES)
def update_regression(request, regression_id: Id, payload: RegressionPatch):
    """Assign (`owner`: a member's username; `""` or `null` unassigns), move the `status` (open -> investigating ->
    fixed or wont_fix; fixed and wont_fix reopen to open), change the `severity` or the `title`. Only the fields
    given change; each change is a line of the history."""
    regression = _regression(request, regression_id)
    changes = payload.dict(exclude_unset=True)
    if "owner" in changes:
        changes["owner"] = changes["owner"] or None
    services.regression_update(regression=regression, **changes)
    return regression_out(_regression(request, regression_id), events=True)
