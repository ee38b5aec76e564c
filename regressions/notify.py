"""Telling the project's channels that a regression opened (or recurred), through alerts' delivery machinery.

Every enabled webhook and Slack channel of the project is sent one message of event `regression.opened`
(whatever opened the regression: a regression is the engineers' work, not only the on-call's, so it goes to
the project's channels, not only to a monitor's). Each is an `alerts.Delivery` (event "regression", no alert)
sent by the worker's `alerts.deliver` like an alert: signed the same way, retried with the same backoff, logged
on the Channels page. Email channels are left out: they page people, and a regression is a ticket.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.urls import reverse

from alerts import payload as payloads
from alerts import services as alert_services
from alerts.models import Channel, Delivery
from regressions.models import Regression, RegressionEvent

EVENT = "regression.opened"
DELIVERY_EVENT = "regression"  # Delivery.event is short; the message says the whole event
KINDS = (Channel.Kind.WEBHOOK, Channel.Kind.SLACK)


def regression_url(regression: Regression) -> str:
    return payloads.absolute(reverse("regressions:regression_detail", args=[regression.project_id, regression.pk]))


def regression_message(regression: Regression, *, recurred: bool) -> dict:
    """What a webhook receives (the same keys as alerts' messages where they mean the same)."""
    return {
        "event": EVENT,
        "regression_id": regression.pk,
        "regression_url": regression_url(regression),
        "recurred": recurred,
        "project": {"id": regression.project_id, "name": regression.project.name},
        "regression": {
            "title": regression.title,
            "severity": regression.severity,
            "status": regression.status,
            "source": regression.source,
            "evaluator": regression.evaluator,
            "release": regression.release,
            "baseline_release": regression.baseline_release,
            "drop": regression.drop,
            "owner": regression.owner.username if regression.owner_id else None,
            "opened_at": regression.created_at.isoformat(),
            "source_url": regression.source_url,
            "traces": [
                {"trace_id": t, "url": payloads.trace_url(regression.project_id, t)} for t in regression.trace_ids[:5]
            ],
        },
    }


def slack_body(message: dict) -> dict:
    r = message["regression"]
    head = f"[{r['severity'].upper()}] {'Regression recurred' if message['recurred'] else 'Regression'}: {r['title']}"
    lines = [
        f"*Release:* {r['release'] or 'unknown'}"
        + (f" (baseline {r['baseline_release']})" if r["baseline_release"] else ""),
        f"*Evaluator / metric:* {r['evaluator'] or '-'}",
        f"*Opened by:* {r['source']}",
    ]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
    ]
    if r["traces"]:
        links = "\n".join(f"<{t['url']}|{t['trace_id'][:12]}>" for t in r["traces"])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Worst traces:*\n{links}"}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"<{message['regression_url']}|Open in Peekr>"}]})  # fmt: skip
    return {"text": "\n".join([head, *lines, message["regression_url"]]), "blocks": blocks}


def regression_notify(*, regression: Regression, recurred: bool, now: datetime) -> list[Delivery]:
    """A Delivery per enabled webhook / Slack channel of the project, sent by the worker once this commits. A
    regression opened by a page skips the channels the alert itself went to: one event, one message there."""
    channels = Channel.objects.filter(project=regression.project_id, enabled=True, kind__in=KINDS).order_by("pk")
    if regression.alert_id is not None:
        channels = channels.exclude(monitors__alerts=regression.alert_id)
    channels = list(channels)
    if not channels:
        return []
    message = regression_message(regression, recurred=recurred)
    with transaction.atomic():
        deliveries = Delivery.objects.bulk_create([
            Delivery(channel=c, event=DELIVERY_EVENT, created_at=now,
                     payload={**message, "slack": slack_body(message)} if c.kind == Channel.Kind.SLACK else message)
            for c in channels
        ])  # fmt: skip
        RegressionEvent.objects.create(
            regression=regression, at=now, kind="notified",
            note=f"{EVENT} sent to {', '.join(c.name for c in channels)}"[:300],
        )  # fmt: skip
        alert_services.deliveries_enqueue([d.pk for d in deliveries])
    return deliveries
