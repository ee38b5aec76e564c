"""Webhook deliveries through the real worker to a local receiver: signed (HMAC-SHA256 over timestamp and
body), a 500 then a 200 retried and logged, a timeout retried and never holding up the evaluation."""

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest

from alerts import services
from alerts.models import Alert, Delivery, Monitor
from alerts.monitors import channel_create
from tests.alerts.receiver import receiver
from tests.base import make_rollups, steady_hours

pytestmark = pytest.mark.django_db(transaction=True)

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
METRIC = "score:faithfulness"


@pytest.fixture
def subprocess_env(subprocess_env):
    # The worker's backoff starts at 0.3 s and a receiver gets 1 s to answer, so retries show within the test.
    return {**subprocess_env, "PEEKR_ALERT_RETRY_BASE_SECONDS": "0.3", "PEEKR_ALERT_TIMEOUT_SECONDS": "1"}


def failing_monitor(project, url):
    channel = channel_create(project=project, name="on-call hook", kind="webhook", url=url)
    monitor = Monitor.objects.get(project=project, metric=METRIC)
    monitor.channels.add(channel)
    make_rollups(project, METRIC, steady_hours(END))
    make_rollups(project, METRIC, {END - timedelta(hours=h): [0.3] * 40 for h in range(1, 7)})
    return channel, monitor


def fire(project) -> float:
    """Three evaluations (the third pages); returns the seconds the paging one took."""
    for i in range(2):
        services.monitors_evaluate(now=END + timedelta(minutes=i), project=project)
    started = time.monotonic()
    services.monitors_evaluate(now=END + timedelta(minutes=2), project=project)
    return time.monotonic() - started


def wait_delivery(status: str, timeout: float = 30.0) -> Delivery:
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = Delivery.objects.first()
        if d is not None and d.status == status:
            return d
        time.sleep(0.1)
    raise AssertionError(f"delivery not {status}: {Delivery.objects.values('status', 'log').first()}")


def test_a_500_then_a_200_is_retried_logged_and_signed(project, celery_worker_process):
    with receiver([500, 200]) as hook:
        channel, monitor = failing_monitor(project, hook.url)
        fire(project)
        delivery = wait_delivery("delivered")
        requests = hook.wait_for(2)
    alert = Alert.objects.get(monitor=monitor)
    assert delivery.alert == alert and delivery.event == "fired" and delivery.attempts == 2
    assert [(a["attempt"], a["status_code"]) for a in delivery.log] == [(1, 500), (2, 200)]
    assert delivery.log[0]["error"].startswith("HTTP 500: receiver says no")
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    for request in requests:
        headers = request["headers"]
        expected = hmac.new(
            channel.secret.encode(), headers["X-Peekr-Timestamp"].encode() + b"." + request["body"], hashlib.sha256
        ).hexdigest()
        assert headers["X-Peekr-Signature"] == f"sha256={expected}"
        assert abs(int(headers["X-Peekr-Timestamp"]) - time.time()) < 60
        assert headers["X-Peekr-Event"] == "alert.fired"
    body = requests[1]["json"]
    assert body["payload"] == alert.payload and body["alert_id"] == alert.pk
    assert body["payload"]["mean_24h"] == pytest.approx((460 * 0.85 + 240 * 0.3) / 700)
    # A body altered on the way no longer matches its signature.
    stamp = requests[1]["headers"]["X-Peekr-Timestamp"].encode()
    tampered = requests[1]["body"].replace(b'"firing"', b'"resolved"')
    assert tampered != requests[1]["body"]
    recomputed = hmac.new(channel.secret.encode(), stamp + b"." + tampered, hashlib.sha256).hexdigest()
    assert requests[1]["headers"]["X-Peekr-Signature"] != f"sha256={recomputed}"


def test_a_receiver_that_times_out_is_retried_and_never_holds_up_the_evaluation(project, celery_worker_process):
    with receiver([("sleep", 3, 200), 200]) as hook:
        failing_monitor(project, hook.url)
        took = fire(project)
        assert took < 1.0  # the evaluation only enqueued the delivery
        delivery = wait_delivery("delivered")
    assert delivery.attempts == 2
    first, second = delivery.log
    assert first["status_code"] is None and first["error"].startswith("timeout after 1 s")
    assert second["status_code"] == 200
