"""Reads of regressions for the page and the API (a fixed number of queries), and of releases' first deploys."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Min, Prefetch, QuerySet, Value, When

from regressions.models import Regression, RegressionEvent
from traces.models import Membership, Project, Trace


def releases_first_seen(*, project: Project, versions: list[str]) -> dict[str, datetime]:
    """Each version's first deploy (any environment; metrics makes one at its first trace)."""
    from metrics.models import Deploy

    rows = (
        Deploy.objects.filter(project=project, version__in=[v for v in versions if v])
        .values("version")
        .annotate(first=Min("at"))
        .order_by()
    )
    return {r["version"]: r["first"] for r in rows}


def regressions(
    *,
    project: Project,
    status: str = "",
    severity: str = "",
    release: str = "",
    source: str = "",
    owner: str = "",
) -> QuerySet[Regression]:
    """Open ones first (open, investigating), then by severity, newest first; filters as given ("active" = open
    or investigating)."""
    qs = Regression.objects.filter(project=project).select_related("owner")
    if status == "active":
        qs = qs.filter(status__in=Regression.OPEN_STATES)
    elif status:
        qs = qs.filter(status=status)
    if severity:
        qs = qs.filter(severity=severity)
    if release:
        qs = qs.filter(release=release)
    if source:
        qs = qs.filter(source=source)
    if owner:
        qs = qs.filter(owner__username=owner)
    closed = Case(When(status__in=Regression.OPEN_STATES, then=Value(0)), default=Value(1))
    rank = Case(*[When(severity=s, then=Value(i)) for i, s in enumerate(Regression.Severity.values)], default=Value(9))
    return qs.annotate(closed=closed, rank=rank).order_by("closed", "rank", "-created_at", "-pk")


def regression_get(*, project: Project, regression_id: int) -> Regression | None:
    events = RegressionEvent.objects.select_related("user").order_by("at", "pk")
    return (
        Regression.objects.filter(project=project, pk=regression_id)
        .select_related("owner", "alert", "regression_run")
        .prefetch_related(Prefetch("events", queryset=events))
        .first()
    )


def release_choices(*, project: Project) -> list[str]:
    return list(
        Regression.objects.filter(project=project).exclude(release="").values_list("release", flat=True)
        .distinct().order_by("release")
    )  # fmt: skip


def members(*, project: Project) -> list[str]:
    return list(
        Membership.objects.filter(project=project).order_by("user__username").values_list("user__username", flat=True)
    )


def linked_traces(*, regression: Regression) -> list:
    """The regression's traces that exist (in its order); ids whose trace is gone are shown as text."""
    found = {
        t.trace_id: t for t in Trace.objects.filter(project=regression.project_id, trace_id__in=regression.trace_ids)
    }
    return [(tid, found.get(tid)) for tid in regression.trace_ids]
