"""A project's webhook reaches public addresses only (unless the operator allows private ones): an editor must
not be able to probe internal services through the delivery log."""

import pytest

from alerts.delivery import delivery_attempt
from alerts.models import Delivery
from alerts.monitors import channel_create
from alerts.services import channel_test
from tests.alerts.receiver import receiver

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.7/hook", "not a public address"),
        ("http://localhost:8080/hook", "loopback"),
    ],
)
def test_a_private_webhook_url_is_refused_with_the_reason(client, project, api_key, settings, url, reason):
    settings.PEEKR_WEBHOOK_ALLOW_PRIVATE = False
    resp = client.post(
        "/api/v1/channels",
        {"name": "internal", "kind": "webhook", "url": url},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert resp.status_code == 400
    assert reason in resp.json()["detail"] and "PEEKR_WEBHOOK_ALLOW_PRIVATE=1" in resp.json()["detail"]


def test_a_channel_whose_address_turns_private_is_refused_at_delivery_and_not_retried(project, settings):
    with receiver([200]) as hook:
        channel = channel_create(project=project, name="hook", kind="webhook", url=hook.url)  # allowed: tests
        settings.PEEKR_WEBHOOK_ALLOW_PRIVATE = False  # the operator tightens it, or the name now resolves inside
        delivery = channel_test(channel=channel)
        assert delivery_attempt(delivery_pk=delivery.pk) is None  # no retry scheduled
        assert hook.requests == []  # nothing reached the internal address
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 1
    assert delivery.last_error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1 is a loopback address")
