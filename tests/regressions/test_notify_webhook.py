"""A regression that opens (or recurs) is sent as `regression.opened` to the project's enabled webhook channels by
the real worker, through alerts' delivery machinery: signed like an alert, logged on a Delivery row. A repeat
that only adds traces sends nothing."""

import hashlib
import hmac
import time

import pytest

from alerts.models import Channel, Delivery
from alerts.monitors import channel_create
from regressions.services import regression_update
from tests.alerts.receiver import receiver
from tests.base import make_regression

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def subprocess_env(subprocess_env):
    return {**subprocess_env, "PEEKR_ALERT_RETRY_BASE_SECONDS": "0.3", "PEEKR_ALERT_TIMEOUT_SECONDS": "1"}


def wait_delivered(count: int, timeout: float = 30.0) -> list[Delivery]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = list(Delivery.objects.filter(status="delivered").order_by("pk"))
        if len(done) >= count:
            return done
        time.sleep(0.1)
    raise AssertionError(f"deliveries: {list(Delivery.objects.values('status', 'log'))}")


def test_opening_notifies_the_webhook_with_a_valid_signature(project, celery_worker_process):
    with receiver([500, 200]) as hook:
        channel = channel_create(project=project, name="eng hook", kind="webhook", url=hook.url)
        disabled = channel_create(project=project, name="old hook", kind="webhook", url=hook.url)
        Channel.objects.filter(pk=disabled.pk).update(enabled=False)
        regression = make_regression(project, release="3.0.0", trace_ids=["a" * 32])
        make_regression(project, release="3.0.0", trace_ids=["b" * 32])  # same release: adds traces, no message
        [delivery] = wait_delivered(1)
        requests = hook.wait_for(2)

    assert delivery.channel_id == channel.pk and delivery.alert_id is None and delivery.event == "regression"
    assert [(a["attempt"], a["status_code"]) for a in delivery.log] == [(1, 500), (2, 200)]  # retried like an alert
    assert Delivery.objects.count() == 1
    request = requests[-1]
    headers = request["headers"]
    expected = hmac.new(
        channel.secret.encode(), headers["X-Peekr-Timestamp"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert headers["X-Peekr-Signature"] == f"sha256={expected}"
    assert headers["X-Peekr-Event"] == "regression.opened"
    body = request["json"]
    assert body["event"] == "regression.opened" and body["regression_id"] == regression.pk
    assert body["recurred"] is False
    assert body["regression"]["release"] == "3.0.0" and body["regression"]["severity"] == "high"
    assert body["regression"]["traces"][0]["trace_id"] == "a" * 32
    assert body["regression_url"].endswith(f"/p/{project.pk}/regressions/{regression.pk}")
    assert regression.events.filter(kind="notified", note__contains="eng hook").exists()


def test_a_recurrence_is_sent_again(project, celery_worker_process):
    with receiver([200]) as hook:
        channel_create(project=project, name="eng hook", kind="webhook", url=hook.url)
        regression = make_regression(project, release="3.0.0")
        wait_delivered(1)
        regression_update(regression=regression, status="fixed")
        make_regression(project, release="3.1.0")
        wait_delivered(2)
        requests = hook.wait_for(2)
    assert [r["json"]["recurred"] for r in requests] == [False, True]
    assert requests[1]["json"]["regression"]["release"] == "3.1.0"
