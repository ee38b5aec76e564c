"""Reads of monitors, alerts, channels and deliveries for the pages and the API (a fixed number of queries)."""

from __future__ import annotations

from django.db.models import Case, Prefetch, QuerySet, Value, When

from alerts.models import Alert, AlertEvent, Channel, Delivery, Monitor
from traces.models import Project

DELIVERIES_SHOWN = 30


def monitors(*, project: Project) -> list[Monitor]:
    """The project's monitors with owners and channels, each with `open_alert` (or None)."""
    found = list(
        Monitor.objects.filter(project=project)
        .prefetch_related("owners", "channels")
        .order_by("-is_builtin", "name", "pk")
    )
    open_alerts = {
        a.monitor_id: a for a in Alert.objects.filter(project=project, state__in=Alert.OPEN_STATES).order_by()
    }
    for m in found:
        m.open_alert = open_alerts.get(m.pk)
    return found


def monitor_get(*, project: Project, monitor_id: int) -> Monitor | None:
    monitor = Monitor.objects.filter(project=project, pk=monitor_id).prefetch_related("owners", "channels").first()
    if monitor is not None:
        monitor.open_alert = Alert.objects.filter(monitor=monitor, state__in=Alert.OPEN_STATES).first()
    return monitor


def _alerts(project: Project) -> QuerySet[Alert]:
    events = AlertEvent.objects.select_related("user").order_by("at", "pk")
    return (
        Alert.objects.filter(project=project)
        .select_related("monitor", "acknowledged_by")
        .prefetch_related(Prefetch("events", queryset=events))
    )


def alerts(*, project: Project, state: str = "all", monitor_id: int | None = None, limit: int = 50) -> list[Alert]:
    """Open alerts first (newest first), then resolved ones (newest first)."""
    qs = _alerts(project)
    if state == "open":
        qs = qs.filter(state__in=Alert.OPEN_STATES)
    elif state != "all":
        qs = qs.filter(state=state)
    if monitor_id is not None:
        qs = qs.filter(monitor_id=monitor_id)
    closed = Case(When(state=Alert.State.RESOLVED, then=Value(1)), default=Value(0))
    return list(qs.annotate(closed=closed).order_by("closed", "-opened_at", "-pk")[:limit])


def alert_get(*, project: Project, alert_id: int) -> Alert | None:
    return _alerts(project).filter(pk=alert_id).first()


def channels(*, project: Project) -> list[Channel]:
    return list(Channel.objects.filter(project=project).order_by("name", "pk"))


def channel_get(*, project: Project, channel_id: int) -> Channel | None:
    return Channel.objects.filter(project=project, pk=channel_id).select_related("project").first()


def deliveries(*, project: Project, channel: Channel | None = None, limit: int = DELIVERIES_SHOWN) -> list[Delivery]:
    qs = Delivery.objects.filter(channel__project=project).select_related("channel").order_by("-created_at", "-pk")
    if channel is not None:
        qs = qs.filter(channel=channel)
    return list(qs[:limit])
