"""HTML pages of regressions: the list (filters by status, severity, release; owner and status changed in place
with htmx) and a regression's page (its linked traces and history).

Every view checks membership itself and answers 404 for a project the user is not in; everyone in the project
reads, owners, admins and engineers change things (others get the same 404 on a write).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from regressions import selectors, services
from regressions.models import Regression
from traces import selectors as trace_selectors
from traces.access import Action, membership_for, requires, role_can
from traces.models import Membership

SHOWN = 200
STATUS_FILTERS = [("active", "Open + investigating"), *Regression.Status.choices, ("all", "All")]


def _page(request: HttpRequest, template: str, context: dict, membership: Membership, status: int = 200):
    context.setdefault("nav_projects", trace_selectors.user_projects(user=request.user))
    context.update(
        membership=membership, project=membership.project, can_edit=role_can(membership.role, Action.MANAGE_RULES)
    )
    return render(request, template, context, status=status)


def _wants_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_TRACES)
def regression_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """Open ones first, the most severe first; filters by status, severity and release."""
    membership = membership_for(request, project_id)
    project = membership.project
    status = request.GET.get("status", "active")
    status = status if status in dict(STATUS_FILTERS) else "active"
    severity = request.GET.get("severity", "")
    severity = severity if severity in Regression.Severity.values else ""
    release = request.GET.get("release", "")[:100]
    found = list(
        selectors.regressions(
            project=project, status="" if status == "all" else status, severity=severity, release=release
        )[: SHOWN + 1]
    )
    context = {
        "regressions": found[:SHOWN],
        "more": len(found) > SHOWN,
        "status": status,
        "severity": severity,
        "release": release,
        "status_filters": STATUS_FILTERS,
        "severities": Regression.Severity.values,
        "statuses": Regression.Status.choices,
        "releases": selectors.release_choices(project=project),
        "members": selectors.members(project=project),
        "filtered": bool(severity or release or status != "active"),
    }
    return _page(request, "regressions/regression_list.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def regression_detail(request: HttpRequest, project_id: int, regression_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    regression = selectors.regression_get(project=membership.project, regression_id=regression_id)
    if regression is None:
        raise Http404("No such regression")
    context = {
        "r": regression,
        "traces": selectors.linked_traces(regression=regression),
        "members": selectors.members(project=membership.project),
        "statuses": Regression.Status.choices,
    }
    return _page(request, "regressions/regression_detail.html", context, membership)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def regression_change(request: HttpRequest, project_id: int, regression_id: int) -> HttpResponse:
    """Assign an owner or move the status; htmx gets the row back (400 with the reason when refused)."""
    membership = membership_for(request, project_id)
    regression = selectors.regression_get(project=membership.project, regression_id=regression_id)
    if regression is None:
        raise Http404("No such regression")
    changes = {}
    if "owner" in request.POST:
        changes["owner"] = request.POST["owner"] or None
    if request.POST.get("status"):
        status = request.POST["status"]
        if status != regression.status:
            changes["status"] = status
    try:
        services.regression_update(regression=regression, user=request.user, **changes)
    except services.RegressionInvalid as exc:
        return HttpResponse(str(exc), status=400)
    if not _wants_partial(request):
        return redirect("regressions:regression_detail", project_id=project_id, regression_id=regression_id)
    regression = selectors.regression_get(project=membership.project, regression_id=regression_id)
    context = {"r": regression, "members": selectors.members(project=membership.project),
               "statuses": Regression.Status.choices}  # fmt: skip
    return _page(request, "regressions/regression_list.html#row", context, membership)
