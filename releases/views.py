"""The Releases page: every release with key metrics, a compare form (baseline, candidate, window) showing the
table and the verdict, and shadow answers side by side with their production twins."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from releases import selectors, verdict
from traces import selectors as trace_selectors
from traces.access import Action, membership_for, requires

RELEASE_WINDOW = timedelta(days=90)
WINDOWS = ("1h", "6h", "24h", "7d", "30d")


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def release_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """Releases from the rollups; ?baseline=&candidate=&window= adds the comparison (htmx: only that part)."""
    membership = membership_for(request, project_id)
    project = membership.project
    now = timezone.now()
    releases = selectors.release_list(project=project, start=now - RELEASE_WINDOW, end=now)
    baseline, candidate = request.GET.get("baseline", "")[:100], request.GET.get("candidate", "")[:100]
    window = request.GET.get("window", "24h")[:10]
    comparison, error = None, ""
    if baseline and candidate:
        try:
            comparison = selectors.compare(
                project=project, baseline=baseline, candidate=candidate, window=verdict.parse_window(window), now=now
            )
        except ValueError as exc:
            error = str(exc)
        except selectors.UnknownVersion as exc:
            error = f"{exc}; versions: {', '.join(exc.versions) or 'none yet'}"
    shadow_version = candidate or next((r["version"] for r in releases if r.get("shadow_traces")), "")
    context = {
        "releases": releases,
        "versions": sorted({r["version"] for r in releases}),
        "baseline": baseline,
        "candidate": candidate,
        "window": window,
        "windows": WINDOWS,
        "comparison": comparison,
        "error": error,
        "shadow_version": shadow_version,
        "pairs": selectors.shadow_pairs(project=project, version=shadow_version) if shadow_version else [],
        "window_days": RELEASE_WINDOW.days,
        "membership": membership,
        "project": project,
        "nav_projects": trace_selectors.user_projects(user=request.user),
    }
    template = "releases/release_list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#comparison"
    return render(request, template, context, status=400 if error else 200)
