"""Sending one Delivery to its channel, once; the alerts.deliver task retries with exponential backoff.

Webhook: the message as JSON, signed. `X-Peekr-Timestamp` is the Unix time of the attempt and
`X-Peekr-Signature` is `sha256=` + hex HMAC-SHA256 of `"{timestamp}." + body` under the channel's secret: a
receiver recomputes it over the raw body and refuses a timestamp older than a few minutes (no replays).
Slack: the same message as an incoming-webhook body (blocks and a text fallback). Email: Django's email
backend (EMAIL_* settings), the payload as text.

A 2xx is delivered. A timeout, a connection error, 408, 429 and 5xx are retried (PEEKR_ALERT_DELIVERY_ATTEMPTS
attempts in all, PEEKR_ALERT_RETRY_BASE_SECONDS doubling each time); any other 4xx is final. Redirects are not
followed. Every attempt is appended to the delivery's log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from alerts import payload as payloads
from alerts.models import Channel, Delivery
from evals.judge_net import JudgeAddressRefused, SyncGuardedTransport

RETRYABLE = {408, 425, 429}
USER_AGENT = "Peekr-Alerts/1"
ALLOW_SETTING = "PEEKR_WEBHOOK_ALLOW_PRIVATE"
REFUSED = "refused: "


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    # A project's webhook reaches public addresses only, unless the operator allows private ones: an editor must
    # not be able to probe internal services through the delivery log (evals.judge_net, checked on every dial).
    transport = None if settings.PEEKR_WEBHOOK_ALLOW_PRIVATE else SyncGuardedTransport(setting=ALLOW_SETTING)
    timeout = settings.PEEKR_ALERT_TIMEOUT_SECONDS
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, transport=transport) as c:
            response = c.post(url, content=body, headers=headers)
    except JudgeAddressRefused as exc:
        return None, f"{REFUSED}{exc}"[:500]
    except httpx.TimeoutException as exc:
        return None, f"timeout after {settings.PEEKR_ALERT_TIMEOUT_SECONDS:g} s ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _send(delivery: Delivery, channel: Channel, now: datetime) -> tuple[int | None, str]:
    message = delivery.payload
    if channel.kind == Channel.Kind.EMAIL:
        subject = payloads.headline(message)[:200]
        try:
            send_mail(subject, "\n".join(payloads.text_lines(message)), None, channel.emails, fail_silently=False)
        except Exception as exc:  # SMTP refusals, connection errors: logged and retried
            return None, f"{type(exc).__name__}: {exc}"[:500]
        return None, ""
    if channel.kind == Channel.Kind.SLACK:
        body = json.dumps(payloads.slack_body(message)).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    else:
        body = json.dumps(message, sort_keys=True).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Peekr-Event": message.get("event", ""),
            "X-Peekr-Delivery": str(delivery.pk),
            "X-Peekr-Timestamp": timestamp,
            "X-Peekr-Signature": signature(channel.secret, timestamp, body),
        }
    return _post(channel.url, body, headers)


def retry_delay(attempt: int) -> float:
    """Seconds before the attempt after `attempt` (1-based): base, 2 x base, 4 x base..."""
    return settings.PEEKR_ALERT_RETRY_BASE_SECONDS * 2 ** (attempt - 1)


def delivery_attempt(*, delivery_pk: int, now: datetime | None = None) -> float | None:
    """One attempt at a delivery; logged on its row. Returns the seconds to wait before the next attempt, or None
    when there is none to make (delivered, failed for good, or already done)."""
    now = now or timezone.now()
    delivery = Delivery.objects.select_related("channel").filter(pk=delivery_pk).first()
    if delivery is None or delivery.status in (Delivery.Status.DELIVERED, Delivery.Status.FAILED):
        return None
    channel = delivery.channel
    started = time.monotonic()
    status_code, error = _send(delivery, channel, now)
    attempt = delivery.attempts + 1
    delivery.attempts = attempt
    delivery.last_status_code, delivery.last_error = status_code, error
    delivery.log = [
        *delivery.log,
        {
            "at": now.isoformat(),
            "attempt": attempt,
            "status_code": status_code,
            "error": error,
            "ms": round((time.monotonic() - started) * 1000, 1),
        },
    ][-20:]
    retry_in = None
    if not error:
        delivery.status, delivery.delivered_at = Delivery.Status.DELIVERED, now
    elif status_code is not None and status_code < 500 and status_code not in RETRYABLE:
        delivery.status = Delivery.Status.FAILED  # the receiver refuses it: sending again changes nothing
    elif error.startswith(REFUSED):
        delivery.status = Delivery.Status.FAILED  # an address projects may not reach: final, like a 4xx
    elif attempt >= settings.PEEKR_ALERT_DELIVERY_ATTEMPTS:
        delivery.status = Delivery.Status.FAILED
    else:
        delivery.status = Delivery.Status.RETRYING
        retry_in = retry_delay(attempt)
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "log", "status", "delivered_at"])
    return retry_in
