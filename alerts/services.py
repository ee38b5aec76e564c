"""Monitor evaluation (beat, every PEEKR_MONITOR_EVAL_SECONDS) and the alert lifecycle.

    beat: alerts.monitors_evaluate -> monitors_evaluate(now)       every enabled monitor:
        figures from metrics.selectors (the 24 h window, the 7-day baseline, the hourly series of the 8 days
        for the daily values and the last hour): 3 queries a monitor -> alerts.verdict.evaluate (pure)
        page   -> no open alert: alert_fire (payload built once, stored; a Delivery per enabled channel,
                  alerts.deliver enqueued on commit: the beat never waits on a channel)
        review -> the worst traces of the window (or of the last hour) to the "Monitor review" queue, at most
                  once an hour per monitor; nobody is paged
        pass   -> an open alert resolves itself (and its channels are told)
        insufficient -> nothing changes
    The monitors' state is written back with one bulk UPDATE.

One open alert per monitor is a partial unique constraint; an alert that is acknowledged stays open until
the metric passes or someone resolves it. `now` is injectable everywhere so tests move the clock.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from alerts import payload as payloads
from alerts import verdict
from alerts.models import Alert, AlertEvent, Channel, Delivery, Monitor
from metrics import selectors as metric_selectors
from metrics.accumulators import metric_def
from peekr_web.errors import Invalid

log = logging.getLogger(__name__)

DAY = timedelta(hours=24)
WINDOW = DAY
BASELINE_DAYS = 7
REVIEW_QUEUE = "Monitor review"
REVIEW_SAMPLE = 10
REVIEW_EVERY = timedelta(hours=1)
ALERT_FIRED_HOOKS: list = []  # callables (alert), run after the firing commits (regressions registers one)
STATE_FIELDS = [
    "consecutive",
    "last_evaluated_at",
    "last_verdict",
    "last_value",
    "last_baseline",
    "last_n",
    "last_z",
    "last_detail",
    "last_review_at",
]


class AlertInvalid(Invalid, ValueError):
    """An alert change that cannot be made (resolving a resolved alert...)."""


def windows_at(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    """The last 24 h, the 7 days before them, and the last hour."""
    return {
        "window": (now - WINDOW, now),
        "baseline": (now - WINDOW - BASELINE_DAYS * DAY, now - WINDOW),
        "hour": (now - timedelta(hours=1), now),
    }


def _thresholds(monitor: Monitor) -> verdict.Thresholds:
    return verdict.Thresholds(
        review_sigma=monitor.review_sigma,
        page_sigma=monitor.page_sigma,
        sustain_count=monitor.sustain_count,
        min_sample=monitor.min_sample,
    )


def _series_baseline(metric: str, points: list) -> verdict.Stats | None:
    """The baseline from the hourly series when that is exact: for a mean or a rate the hours' value x n add up to
    the sum (and for cost per successful task to the cost, n being the tasks). Quantiles and cost per user do not
    add up that way: None, and the baseline is read as a window of its own."""
    definition = metric_def(metric)
    if definition is None or definition.quantile is not None or metric == "cost_per_user":
        return None
    n = sum(p.n for p in points if p.value is not None)
    return verdict.Stats(sum(p.value * p.n for p in points if p.value is not None) / n if n else None, n)


def _metric_figures(monitor: Monitor, now: datetime) -> dict:
    w = windows_at(now)
    common = {"project": monitor.project, "metric": monitor.metric, "filter": monitor.filter or None}
    window = metric_selectors.metric_window(**common, start=w["window"][0], end=w["window"][1])
    # One hourly series over the 8 days gives the baseline's daily values (24 h slices ending where the baseline
    # ends, so "a day" is aligned with now, not with midnight), the last hour, and for means the baseline itself:
    # two reads of the rollups per monitor, the beat's whole cost. The standard-error term of the spread uses the
    # items' spread of the 24 h window.
    series = metric_selectors.metric_series(**common, start=w["baseline"][0], end=now, bucket="hour")
    base_end, hour_start = w["baseline"][1], w["hour"][0].replace(minute=0, second=0, microsecond=0)
    baseline_points = [p for p in series if p.at < base_end]
    baseline = _series_baseline(monitor.metric, baseline_points)
    if baseline is None:
        b = metric_selectors.metric_window(**common, start=w["baseline"][0], end=w["baseline"][1])
        baseline = verdict.Stats(b.value, b.n, b.sd)
    daily = verdict.daily_values([((base_end - p.at).total_seconds() / 86400, p.value, p.n) for p in baseline_points])
    recent = [p for p in series if p.at >= hour_start and p.value is not None and p.n > 0]
    n_hour = sum(p.n for p in recent)
    last_hour = verdict.Stats(sum(p.value * p.n for p in recent) / n_hour, n_hour) if n_hour else None
    window_stats = verdict.Stats(window.value, window.n, window.sd)
    baseline_stats = baseline
    result = verdict.evaluate(
        window=window_stats,
        baseline=baseline_stats,
        daily=daily,
        direction=monitor.direction,
        thresholds=_thresholds(monitor),
        previous_consecutive=monitor.consecutive,
        last_hour=last_hour,
    )
    return {
        "verdict": result,
        "window": window_stats,
        "baseline": baseline_stats,
        "daily": daily,
        "last_hour": last_hour,
        "windows": w,
        "value": window.value,
        "baseline_value": baseline.value,
        "n": window.n,
        "z": result.z,
    }


def _user_cost_figures(monitor: Monitor, now: datetime) -> dict:
    w = windows_at(now)
    costs_24h = metric_selectors.user_costs(project=monitor.project, start=w["window"][0], end=w["window"][1])
    costs_base = metric_selectors.user_costs(project=monitor.project, start=w["baseline"][0], end=w["baseline"][1])
    result = verdict.user_cost_verdict(
        costs_24h=costs_24h,
        costs_baseline=costs_base,
        baseline_days=BASELINE_DAYS,
        factor=monitor.factor,
        thresholds=_thresholds(monitor),
        previous_consecutive=monitor.consecutive,
    )
    traces_24h = 0
    if result.user_id and result.band != "pass":
        from traces.models import Trace

        traces_24h = Trace.objects.filter(
            project=monitor.project, user_id=result.user_id, start_time__gte=w["window"][0], start_time__lt=now
        ).count()
    return {
        "verdict": result,
        "windows": w,
        "value": result.cost_24h if result.user_id else None,
        "baseline_value": result.baseline_daily if result.user_id else None,
        "n": len(costs_24h),
        "z": result.ratio if result.user_id else None,
        "traces_24h": traces_24h,
    }


def monitor_figures(*, monitor: Monitor, now: datetime | None = None) -> dict:
    """The figures and the verdict of one evaluation, without acting on them."""
    now = now or timezone.now()
    return _user_cost_figures(monitor, now) if monitor.kind == Monitor.Kind.USER_COST else _metric_figures(monitor, now)


def monitor_evaluate(*, monitor: Monitor, now: datetime | None = None, open_alert=..., save: bool = True) -> str:
    """Evaluate one monitor and act on the verdict (fire, route to review, resolve). Returns the band."""
    now = now or timezone.now()
    if open_alert is ...:
        open_alert = Alert.objects.filter(monitor=monitor, state__in=Alert.OPEN_STATES).first()
    figures = monitor_figures(monitor=monitor, now=now)
    v = figures["verdict"]
    monitor.consecutive = min(v.consecutive, 32767)
    monitor.last_evaluated_at = now
    monitor.last_verdict = v.band
    monitor.last_value, monitor.last_baseline = figures["value"], figures["baseline_value"]
    monitor.last_n, monitor.last_z = figures["n"], figures["z"]
    monitor.last_detail = v.reason[:300]
    if v.band == "page" and open_alert is None:
        alert_fire(monitor=monitor, figures=figures, now=now)
    elif v.band == "pass" and open_alert is not None:
        alert_resolve(alert=open_alert, now=now, note="the metric returned within its baseline", automatic=True)
    elif v.band == "review" and open_alert is None and _review_due(monitor, now):
        review_route(monitor=monitor, figures=figures)
        monitor.last_review_at = now
    if save:
        monitor.save(update_fields=STATE_FIELDS)
    return v.band


def _review_due(monitor: Monitor, now: datetime) -> bool:
    return monitor.last_review_at is None or now - monitor.last_review_at >= REVIEW_EVERY


def monitors_evaluate(*, now: datetime | None = None, project=None) -> dict[str, int]:
    """Every enabled monitor (of one project, or all): the beat task's work. Returns the count per band; a
    monitor that raises is logged and counted as "error", and the others still run."""
    now = now or timezone.now()
    monitors = Monitor.objects.filter(enabled=True).select_related("project").order_by("pk")
    alerts = Alert.objects.filter(state__in=Alert.OPEN_STATES, monitor__enabled=True)
    if project is not None:
        monitors, alerts = monitors.filter(project=project), alerts.filter(project=project)
    monitors = list(monitors)
    open_alerts = {a.monitor_id: a for a in alerts}
    counts: Counter[str] = Counter()
    for monitor in monitors:
        try:
            counts[monitor_evaluate(monitor=monitor, now=now, open_alert=open_alerts.get(monitor.pk), save=False)] += 1
        except Exception:
            log.exception("monitor %s (%s) could not be evaluated", monitor.pk, monitor.name)
            counts["error"] += 1
    _states_write(monitors)
    return dict(counts)


def _states_write(monitors: list[Monitor]) -> None:
    """The monitors' evaluation state in one executemany UPDATE (bulk_update's CASE per field and row costs more
    to build than the evaluation of 200 monitors)."""
    if not monitors:
        return
    table = connection.ops.quote_name(Monitor._meta.db_table)
    columns = [Monitor._meta.get_field(f) for f in STATE_FIELDS]
    sets = ", ".join(f"{connection.ops.quote_name(c.column)} = %s" for c in columns)
    rows = [[c.get_db_prep_save(getattr(m, c.attname), connection) for c in columns] + [m.pk] for m in monitors]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", rows)


# --- Alerts ---


def alert_url(alert: Alert) -> str:
    return payloads.absolute(reverse("alerts:alert_detail", args=[alert.project_id, alert.pk]))


def alert_message(alert: Alert, event: str) -> dict:
    """What every channel is sent: the event, the alert, and its stored payload."""
    return {
        "event": f"alert.{event}",
        "alert_id": alert.pk,
        "alert_url": alert_url(alert),
        "state": alert.state,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "project": {"id": alert.project_id, "name": alert.monitor.project.name},
        "payload": alert.payload,
    }


def _notify(alert: Alert, event: str) -> list[Delivery]:
    channels = [c for c in alert.monitor.channels.all() if c.enabled]
    if not channels:
        return []
    message = alert_message(alert, event)
    deliveries = Delivery.objects.bulk_create(
        [Delivery(channel=c, alert=alert, event=event, payload=message) for c in channels]
    )
    deliveries_enqueue([d.pk for d in deliveries])
    return deliveries


def deliveries_enqueue(pks: list[int]) -> None:
    """alerts.deliver for each, once the transaction that made them commits."""
    from alerts.tasks import deliver

    def send() -> None:
        for pk in pks:
            deliver.delay(pk)

    transaction.on_commit(send)


def alert_fire(*, monitor: Monitor, figures: dict, now: datetime | None = None) -> Alert | None:
    """Open the monitor's alert with its payload, record the event and tell its channels. None when the monitor
    already has an open alert (the constraint decides when two evaluations race)."""
    now = now or timezone.now()
    build = payloads.user_cost_payload if monitor.kind == Monitor.Kind.USER_COST else payloads.metric_payload
    body = build(monitor, figures, now)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(project=monitor.project, monitor=monitor, payload=body, opened_at=now)
            AlertEvent.objects.create(alert=alert, at=now, kind="fired", note=body["reason"][:300])
            _notify(alert, "fired")
            transaction.on_commit(lambda: [hook(alert) for hook in ALERT_FIRED_HOOKS], robust=True)
    except IntegrityError:
        return None
    return alert


def alert_acknowledge(*, alert: Alert, user=None, now: datetime | None = None) -> Alert:
    """Someone is on it: the alert stays open (no new alert for this monitor) until it resolves."""
    now = now or timezone.now()
    if alert.state != Alert.State.FIRING:
        raise AlertInvalid(f"only a firing alert can be acknowledged; this one is {alert.state}")
    with transaction.atomic():
        updated = Alert.objects.filter(pk=alert.pk, state=Alert.State.FIRING).update(
            state=Alert.State.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user
        )
        if not updated:
            raise AlertInvalid("the alert changed meanwhile; reload it")
        AlertEvent.objects.create(alert=alert, at=now, kind="acknowledged", user=user)
    alert.refresh_from_db()
    return alert


def alert_resolve(
    *, alert: Alert, user=None, now: datetime | None = None, note: str = "", automatic: bool = False
) -> Alert:
    """Close an open alert: by hand (a member, or the API's key), or by the metric's recovery (automatic). Its
    channels are told."""
    now = now or timezone.now()
    if alert.state == Alert.State.RESOLVED:
        raise AlertInvalid("the alert is already resolved")
    with transaction.atomic():
        updated = Alert.objects.filter(pk=alert.pk, state__in=Alert.OPEN_STATES).update(
            state=Alert.State.RESOLVED, resolved_at=now
        )
        if not updated:
            raise AlertInvalid("the alert is already resolved")
        AlertEvent.objects.create(alert=alert, at=now, kind="resolved", user=user, note=note[:300])
        alert.refresh_from_db()
        if not automatic:  # resolved by hand while still off: paging again takes sustain_count evaluations
            Monitor.objects.filter(pk=alert.monitor_id).update(consecutive=0)
        _notify(alert, "resolved")
    return alert


# --- The review band ---


def review_route(*, monitor: Monitor, figures: dict) -> int:
    """A sample of the window's worst traces (the last hour's, when only the last hour is off) to the project's
    "Monitor review" queue. Returns the items added (traces already queued are left alone)."""
    from annotations import services as review
    from annotations.models import Queue

    v = figures["verdict"]
    w = figures["windows"]
    if monitor.kind == Monitor.Kind.USER_COST:
        from traces.models import Trace

        start, end = w["window"]
        pks = list(
            Trace.objects.filter(project=monitor.project, user_id=v.user_id, start_time__gte=start, start_time__lt=end)
            .order_by("-cost")
            .values_list("pk", flat=True)[:REVIEW_SAMPLE]
        )
    else:
        start, end = w["hour"] if getattr(v, "hour_z", None) is not None and v.z < monitor.review_sigma else w["window"]
        pks = [
            t.pk
            for t in metric_selectors.worst_traces(
                project=monitor.project,
                metric=monitor.metric,
                filter=monitor.filter or None,
                start=start,
                end=end,
                limit=REVIEW_SAMPLE,
                higher_is_better=monitor.direction == Monitor.Direction.DOWN,
            )
        ]
    if not pks:
        return 0
    queue = Queue.objects.filter(project=monitor.project, name=REVIEW_QUEUE).first()
    if queue is None:
        try:
            queue = review.queue_create(
                project=monitor.project,
                name=REVIEW_QUEUE,
                description="Worst traces of monitors in their review band (a drift too small or too short to page).",
            )
        except review.ReviewInvalid:  # created meanwhile by another evaluation
            queue = Queue.objects.get(project=monitor.project, name=REVIEW_QUEUE)
    return len(review.queue_items_add(queue=queue, trace_pks=pks, reason=f"monitor {monitor.name}: {v.reason}"))


# --- Channels ---


def channel_test(*, channel: Channel) -> Delivery:
    """ "Send test alert": a test message in the real shape, delivered like any other (logged, retried)."""
    message = {
        "event": "alert.test",
        "alert_id": None,
        "alert_url": "",
        "state": "firing",
        "opened_at": timezone.now().isoformat(),
        "resolved_at": None,
        "project": {"id": channel.project_id, "name": channel.project.name},
        "payload": payloads.test_payload(),
    }
    with transaction.atomic():
        delivery = Delivery.objects.create(channel=channel, event="test", payload=message)
        deliveries_enqueue([delivery.pk])
    return delivery
