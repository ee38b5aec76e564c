"""HTML pages of metrics: the Releases list. The rollup charts live on the Dashboards page (metrics.charts)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from metrics import selectors
from traces import selectors as trace_selectors

RELEASE_WINDOW = timedelta(days=90)


@login_required
@require_GET
def release_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """Each release: when it was first seen, its traces, its deploys, and key metrics from the rollups."""
    membership = trace_selectors.membership_get(user=request.user, project_id=project_id)
    if membership is None:
        raise Http404("No such project")
    now = timezone.now()
    context = {
        "releases": selectors.releases(project=membership.project, start=now - RELEASE_WINDOW, end=now),
        "window_days": RELEASE_WINDOW.days,
        "membership": membership,
        "project": membership.project,
        "nav_projects": trace_selectors.user_projects(user=request.user),
    }
    return render(request, "metrics/release_list.html", context)
