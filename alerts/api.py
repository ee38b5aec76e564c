"""JSON API of alerts: monitors, alerts (acknowledge, resolve) and channels (send a test).

The key acts for its project; another project's monitor, alert or channel answers 404. A refused value (an
unknown metric, a bad threshold, a malformed URL) answers 400 with the reason.
"""

from ninja import Query, Router, Status

from alerts import monitors as monitor_services
from alerts import selectors, services
from alerts.models import Alert, Channel, Delivery, Monitor
from alerts.schemas import (
    AlertListOut,
    AlertOut,
    AlertQuery,
    ChannelIn,
    ChannelListOut,
    ChannelOut,
    DeliveryOut,
    Error,
    MonitorIn,
    MonitorListOut,
    MonitorOut,
    MonitorPatch,
)
from peekr_web.errors import NotFound
from peekr_web.schemas import Id
from traces.access import Action, api_requires
from traces.audit import audit_request

router = Router(tags=["alerts"])


def monitor_out(m: Monitor) -> dict:
    open_alert = getattr(m, "open_alert", None)
    return {
        **{f: getattr(m, f) for f in (
            "name", "kind", "metric", "filter", "direction", "runbook_url", "review_sigma", "page_sigma",
            "sustain_count", "min_sample", "factor", "enabled", "is_builtin",
        )},
        "id": m.pk,
        "owners": sorted(u.username for u in m.owners.all()),
        "channels": sorted(c.pk for c in m.channels.all()),
        "state": {
            "verdict": m.last_verdict,
            "consecutive": m.consecutive,
            "evaluated_at": m.last_evaluated_at,
            "value_24h": m.last_value,
            "baseline_7d": m.last_baseline,
            "sample_size": m.last_n,
            "z": m.last_z,
            "detail": m.last_detail,
        },
        "open_alert_id": open_alert.pk if open_alert else None,
    }  # fmt: skip


def alert_out(a: Alert) -> dict:
    return {
        "id": a.pk,
        "monitor_id": a.monitor_id,
        "monitor_name": a.monitor.name,
        "state": a.state,
        "opened_at": a.opened_at,
        "acknowledged_at": a.acknowledged_at,
        "acknowledged_by": a.acknowledged_by.username if a.acknowledged_by else None,
        "resolved_at": a.resolved_at,
        "payload": a.payload,
        "events": [
            {"at": e.at, "kind": e.kind, "user": e.user.username if e.user else None, "note": e.note}
            for e in a.events.all()
        ],
    }


def channel_out(c: Channel) -> dict:
    return {
        "id": c.pk,
        "name": c.name,
        "kind": c.kind,
        "url": c.url,
        "emails": c.emails,
        "enabled": c.enabled,
        "secret": c.secret or None,
    }


def delivery_out(d: Delivery) -> dict:
    return {f: getattr(d, f) for f in DeliveryOut.model_fields if f not in ("id",)} | {"id": d.pk}


def _monitor(request, monitor_id: int) -> Monitor:
    monitor = selectors.monitor_get(project=request.project, monitor_id=monitor_id)
    if monitor is None:
        raise NotFound(f"no monitor {monitor_id}")
    return monitor


def _alert(request, alert_id: int) -> Alert:
    alert = selectors.alert_get(project=request.project, alert_id=alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


# --- Monitors ---


@router.get("/monitors", response=MonitorListOut, summary="List monitors")
@api_requires(Action.VIEW_TRACES)
def list_monitors(request):
    """The project's monitors (built-in ones first) with their last evaluation and open alert."""
    return {"items": [monitor_out(m) for m in selectors.monitors(project=request.project)]}


@router.post("/monitors", response={201: MonitorOut, 400: Error}, summary="Create a monitor")
@api_requires(Action.MANAGE_MONITORS)
def create_monitor(request, payload: MonitorIn):
    """A metric (or `kind: user_cost`) watched against its 7-day baseline: review past `review_sigma` spreads,
    page past `page_sigma` sustained `sustain_count` evaluations, no verdict under `min_sample` items."""
    monitor = monitor_services.monitor_create(project=request.project, **payload.dict())
    audit_request(request, project=request.project, action="monitor.create", target=monitor.name)
    return Status(201, monitor_out(_monitor(request, monitor.pk)))


@router.get("/monitors/{monitor_id}", response={200: MonitorOut, 404: Error}, summary="A monitor")
@api_requires(Action.VIEW_TRACES)
def get_monitor(request, monitor_id: Id):
    return monitor_out(_monitor(request, monitor_id))


@router.patch("/monitors/{monitor_id}", response={200: MonitorOut, 400: Error, 404: Error}, summary="Change a monitor")
@api_requires(Action.MANAGE_MONITORS)
def update_monitor(request, monitor_id: Id, payload: MonitorPatch):
    """Only the fields given change; changing the metric or the filter starts the evaluation state again."""
    monitor = _monitor(request, monitor_id)
    monitor_services.monitor_update(monitor=monitor, **payload.dict(exclude_unset=True))
    audit_request(request, project=request.project, action="monitor.update", target=monitor.name)
    return monitor_out(_monitor(request, monitor_id))


@router.delete("/monitors/{monitor_id}", response={204: None, 404: Error}, summary="Delete a monitor")
@api_requires(Action.MANAGE_MONITORS)
def delete_monitor(request, monitor_id: Id):
    """The monitor and its alerts' history go."""
    monitor = _monitor(request, monitor_id)
    monitor_services.monitor_delete(monitor=monitor)
    audit_request(request, project=request.project, action="monitor.delete", target=monitor.name)
    return Status(204, None)


# --- Alerts ---


@router.get("/alerts", response=AlertListOut, summary="List alerts")
@api_requires(Action.VIEW_TRACES)
def list_alerts(request, q: Query[AlertQuery]):
    """Open alerts first, newest first; `state=open` (firing or acknowledged), `firing`, `acknowledged`,
    `resolved`; each with its payload and history."""
    found = selectors.alerts(project=request.project, state=q.state, monitor_id=q.monitor_id, limit=q.limit)
    return {"items": [alert_out(a) for a in found]}


@router.get("/alerts/{alert_id}", response={200: AlertOut, 404: Error}, summary="An alert")
@api_requires(Action.VIEW_TRACES)
def get_alert(request, alert_id: Id):
    return alert_out(_alert(request, alert_id))


@router.post(
    "/alerts/{alert_id}/acknowledge", response={200: AlertOut, 400: Error, 404: Error}, summary="Acknowledge an alert"
)
@api_requires(Action.MANAGE_MONITORS)
def acknowledge_alert(request, alert_id: Id):
    """Someone is on it; the alert stays open until it resolves."""
    services.alert_acknowledge(alert=_alert(request, alert_id))
    return alert_out(_alert(request, alert_id))


@router.post("/alerts/{alert_id}/resolve", response={200: AlertOut, 400: Error, 404: Error}, summary="Resolve an alert")
@api_requires(Action.MANAGE_MONITORS)
def resolve_alert(request, alert_id: Id):
    """Close it by hand (alerts also resolve themselves once the metric passes again)."""
    services.alert_resolve(alert=_alert(request, alert_id), note="resolved through the API")
    return alert_out(_alert(request, alert_id))


# --- Channels ---


@router.get("/channels", response=ChannelListOut, summary="List channels")
@api_requires(Action.MANAGE_MONITORS)
def list_channels(request):
    return {"items": [channel_out(c) for c in selectors.channels(project=request.project)]}


@router.post("/channels", response={201: ChannelOut, 400: Error}, summary="Create a channel")
@api_requires(Action.MANAGE_MONITORS)
def create_channel(request, payload: ChannelIn):
    """`webhook` (JSON signed with HMAC-SHA256: `X-Peekr-Signature: sha256=<hex>` over `"{X-Peekr-Timestamp}." +
    body`, key `secret`), `slack` (an incoming-webhook URL) or `email` (addresses)."""
    channel = monitor_services.channel_create(project=request.project, **payload.dict())
    return Status(201, channel_out(channel))


@router.post("/channels/{channel_id}/test", response={202: DeliveryOut, 404: Error}, summary="Send a test alert")
@api_requires(Action.MANAGE_MONITORS)
def test_channel(request, channel_id: Id):
    """A test alert in the real shape, delivered by the worker like any other (see the delivery's log)."""
    channel = selectors.channel_get(project=request.project, channel_id=channel_id)
    if channel is None:
        raise NotFound(f"no channel {channel_id}")
    return Status(202, delivery_out(services.channel_test(channel=channel)))


@router.get("/channels/{channel_id}/deliveries", response={200: list[DeliveryOut], 404: Error}, summary="Delivery log")
@api_requires(Action.MANAGE_MONITORS)
def channel_deliveries(request, channel_id: Id):
    """The channel's newest deliveries, each with every attempt (status code, error, duration)."""
    channel = selectors.channel_get(project=request.project, channel_id=channel_id)
    if channel is None:
        raise NotFound(f"no channel {channel_id}")
    return [delivery_out(d) for d in selectors.deliveries(project=request.project, channel=channel)]
