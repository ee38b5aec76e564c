"""HTML of signals: the blocks the trace and session pages load with htmx, the Insights tab's abandonment by
intent, and the routing policy's table. Every view checks membership itself (404 for outsiders); changing the
policy takes an owner, admin or engineer."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from peekr_web.errors import Invalid
from signals import routing, selectors
from signals.models import SignalKind
from traces import selectors as trace_selectors
from traces.access import Action, membership_for, requires, role_can
from traces.models import Membership

SHOWN = 100
INTENT_WINDOW = timedelta(days=7)


def _page(request: HttpRequest, template: str, context: dict, membership: Membership, partial: str) -> HttpResponse:
    if request.htmx and not request.htmx.history_restore_request:
        template += f"#{partial}"
    context.setdefault("nav_projects", trace_selectors.user_projects(user=request.user))
    context.update(
        membership=membership, project=membership.project, can_edit=role_can(membership.role, Action.MANAGE_REVIEW)
    )
    return render(request, template, context)


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_TRACES)
def trace_signals(request: HttpRequest, project_id: int, trace_id: str) -> HttpResponse:
    """A trace's signals: the block the trace page loads with htmx; without htmx, a page."""
    membership = membership_for(request, project_id)
    trace = trace_selectors.trace_get(project=membership.project, trace_id=trace_id)
    if trace is None:
        raise Http404("No such trace")
    rows = list(trace.signals.order_by("created_at", "pk")[:SHOWN])
    context = {"trace": trace, "rows": rows, "title": f"trace {trace.trace_id}"}
    return _page(request, "signals/signals.html", context, membership, "signals")


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_TRACES)
def session_signals(request: HttpRequest, project_id: int, session_id: str) -> HttpResponse:
    """A session's signals, each with the trace it sits on: the block the session page loads with htmx."""
    membership = membership_for(request, project_id)
    qs = selectors.signals_filter(project=membership.project, session_id=session_id).select_related("trace")
    context = {"session_id": session_id, "rows": list(qs[:SHOWN]), "title": f"session {session_id}", "by_trace": True}
    return _page(request, "signals/signals.html", context, membership, "signals")


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_TRACES)
def abandonment_intents(request: HttpRequest, project_id: int) -> HttpResponse:
    """The Insights tab's "abandonment after intent X" block, loaded with htmx (empty when nothing stands out)."""
    membership = membership_for(request, project_id)
    since = timezone.now() - INTENT_WINDOW
    context = {
        "intents": selectors.abandonment_by_intent(project=membership.project, since=since),
        "min_sessions": selectors.MIN_SESSIONS,
    }
    return _page(request, "signals/intents.html", context, membership, "intents")


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW_TRACES, post=Action.MANAGE_REVIEW)
def policy(request: HttpRequest, project_id: int) -> HttpResponse:
    """The routing policy: a row per signal kind, a checkbox per action; the derivations' windows."""
    membership = membership_for(request, project_id)
    project = membership.project
    error = ""
    if request.method == "POST":
        actions = {k: [a for a in routing.ACTIONS if request.POST.get(f"{k}:{a}")] for k in SignalKind.values}
        try:
            routing.policy_update(
                project=project,
                actions=actions,
                rephrase_window_seconds=_int(request.POST.get("rephrase_window_seconds")),
                rephrase_threshold=_float(request.POST.get("rephrase_threshold")),
                abandonment_quiet_seconds=_int(request.POST.get("abandonment_quiet_seconds")),
                escalation_patterns=(request.POST.get("escalation_patterns") or "").split(","),
            )
            return redirect("signals:policy", project_id=project.pk)
        except Invalid as exc:
            error = exc.detail
    current = routing.policies_for([project.pk])[project.pk]
    table = routing.actions_of(current)
    rows = [(k, label, [(a, a in table[k]) for a in routing.ACTIONS]) for k, label in SignalKind.choices]
    context = {"policy": current, "rows": rows, "actions": routing.ACTIONS, "error": error}
    return _page(request, "signals/policy.html", context, membership, "table")


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        raise Invalid(f"not a whole number: {raw!r}") from None


def _float(raw: str | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "") else None
    except ValueError:
        raise Invalid(f"not a number: {raw!r}") from None
