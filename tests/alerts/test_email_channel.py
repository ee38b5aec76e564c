"""An email channel sends the payload as text through Django's email backend (locmem here)."""

import pytest
from django.core import mail

from alerts import services
from alerts.delivery import delivery_attempt
from alerts.models import Delivery
from alerts.monitors import MonitorInvalid, channel_create
from tests.alerts.helpers import known_alert

pytestmark = pytest.mark.django_db


def test_an_alert_is_mailed_to_every_address(project, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "peekr@example.com"
    alert = known_alert(project)
    channel = channel_create(project=project, name="on-call mail", kind="email", emails="a@example.com, b@example.com")
    delivery = Delivery.objects.create(
        channel=channel, alert=alert, event="fired", payload=services.alert_message(alert, "fired")
    )
    assert delivery_attempt(delivery_pk=delivery.pk) is None
    (message,) = mail.outbox
    assert message.to == ["a@example.com", "b@example.com"] and message.from_email == "peekr@example.com"
    assert message.subject == "[FIRING] Faithfulness: 0.610 over 24 h vs baseline 0.830 (n=1200)"
    body = message.body
    for line in (
        "24 h mean: 0.610 (sample size 1200)",
        "7-day baseline: 0.830",
        "Delta: -0.220 (-26.5 %)",
        "Moved most: release 2.4.1: 0.61 vs 0.83",
        "Runbook: https://wiki.example.com/runbooks/faithfulness",
        "  - 2.4.1 prod at 2026-03-10T05:00:00+00:00 new retriever",
        f"  - http://localhost:8000/p/{project.pk}/traces/{'a' * 32}",
    ):
        assert line in body.splitlines()
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.log[0]["error"] == ""


def test_an_smtp_server_that_is_down_is_retried(project, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens there
    alert = known_alert(project)
    channel = channel_create(project=project, name="mail", kind="email", emails=["a@example.com"])
    delivery = Delivery.objects.create(
        channel=channel, alert=alert, event="fired", payload=services.alert_message(alert, "fired")
    )
    assert delivery_attempt(delivery_pk=delivery.pk) == settings.PEEKR_ALERT_RETRY_BASE_SECONDS
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and "ConnectionRefusedError" in delivery.last_error


def test_a_bad_address_is_refused():
    with pytest.raises(MonitorInvalid, match="not an email address: 'nobody'"):
        channel_create(project=None, name="mail", kind="email", emails="nobody")
