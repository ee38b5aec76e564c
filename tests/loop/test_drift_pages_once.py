"""The production loop end to end: 8 simulated days through the real receiver, the real worker and beat.

Two projects get the same week of traffic (faithfulness ~0.85, as the app's own ragas scores). On day 8:
- "drift": release 2.4.1 takes half the traffic and answers less faithfully (~0.55). The built-in faithfulness
  monitor, with a runbook and a signed webhook, must page exactly once, with the 24 h mean, the 7-day baseline
  and the sample size computed here from the raw spans, the deploy that was announced, the runbook, the worst
  traces and the release that moved. Then, with the clock moved a day on (traffic back to normal), it resolves.
- "dip": one bad hour just now. The 24 h mean hardly moves: no page, but the bad hour's traces go to review.

The beat runs every 2 s here (PEEKR_MONITOR_EVAL_SECONDS) so three consecutive evaluations take seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from alerts.models import Alert, Channel, Delivery, Monitor
from alerts.monitors import channel_create, monitor_update
from annotations.models import QueueItem
from metrics.models import RollupPending, TraceContribution
from scripts.supervise import worker_argv
from tests.alerts.receiver import receiver
from tests.base import make_project, stop_process_group
from tests.loop.traffic import Sender, plan_hours
from traces.models import Span, Trace

pytestmark = [pytest.mark.worker]

PER_HOUR = 12
DAYS = 8


def _score(bad: bool):
    return lambda hour, release, rng: rng.gauss(0.55 if bad else 0.85, 0.06)


def _wait_for(predicate, timeout: float, what: str, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    tail = log_path.read_text()[-4000:] if log_path and log_path.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def _send_week(client, key: str, *, now: datetime, last_day_bad_release: bool, bad_last_hour: bool) -> None:
    hours = DAYS * 24
    start = now - timedelta(hours=hours)

    def release_of(h: int, i: int) -> str:
        return "2.4.1" if last_day_bad_release and h >= hours - 24 and i % 2 == 0 else "2.4.0"

    def score_of(h, release, rng):
        bad = release == "2.4.1" or (bad_last_hour and h == hours - 1)
        return rng.gauss(0.45 if bad_last_hour and h == hours - 1 else (0.55 if bad else 0.85), 0.06)

    sender = Sender()
    planned = plan_hours(start=start, hours=hours, per_hour=PER_HOUR, release_of=release_of, score_of=score_of)
    for p in planned:
        sender.make(p)
    sender.post(client, key)


def _raw_faithfulness(project, start: datetime, end: datetime) -> list[float]:
    """The app's faithfulness scores of the traces started in [start, end), read from the stored spans."""
    roots = Span.objects.filter(project=project, parent_span_id="", trace__start_time__gte=start)
    roots = roots.filter(trace__start_time__lt=end)
    return [
        s["value"]
        for sdk in roots.values_list("sdk_scores", flat=True)
        for s in sdk
        if s["evaluator"] == "faithfulness"
    ]


@pytest.fixture
def worker_with_beat(subprocess_env):
    from peekr_web.celery import app

    app.control.purge()
    env = {
        **subprocess_env,
        "PEEKR_MONITOR_EVAL_SECONDS": "2",
        "PEEKR_TRACE_QUIET_SECONDS": "1",
        "PEEKR_SETTLE_SWEEP_SECONDS": "3",
        "PEEKR_WORKER_LOG_LEVEL": "INFO",
    }
    log_path = settings.DATA_DIR / f"loop-worker-{os.getpid()}-{time.monotonic_ns()}.log"
    with open(log_path, "w") as log_file:
        argv = worker_argv(sys.executable, env, settings.DATA_DIR)
        argv[argv.index("celery", argv.index("-Q"))] = "celery,judges"  # one process takes both queues here
        proc = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        proc.log_path = log_path
        try:
            yield proc
        finally:
            stop_process_group(proc)


@pytest.mark.django_db(transaction=True)
def test_a_release_that_drops_faithfulness_pages_once_a_dip_goes_to_review_and_recovery_resolves(
    client, worker_with_beat
):
    now = timezone.now()
    drift, drift_key = make_project("drift")
    dip, dip_key = make_project("dip")
    Monitor.objects.update(enabled=False)  # until the week is in: a verdict on half-ingested data means nothing

    # The deploy pipeline announces 2.4.1 when it starts the canary (the first 2.4.1 trace would add it anyway).
    canary_at = now - timedelta(hours=24)
    resp = client.post(
        "/api/v1/deploys",
        data={"version": "2.4.1", "environment": "production", "commit": "9f2c1ab", "description": "new retriever",
              "time": canary_at.isoformat()},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {drift_key}",
    )  # fmt: skip
    assert resp.status_code == 201, resp.content

    _send_week(client, drift_key, now=now, last_day_bad_release=True, bad_last_hour=False)
    _send_week(client, dip_key, now=now, last_day_bad_release=False, bad_last_hour=True)
    total = Trace.objects.count()
    assert total == 2 * DAYS * 24 * PER_HOUR

    log = worker_with_beat.log_path
    _wait_for(
        lambda: Trace.objects.filter(processed_at__isnull=False).count() == total,
        240,
        "every trace through the pipeline",
        log,
    )
    _wait_for(
        lambda: TraceContribution.objects.count() == total and not RollupPending.objects.exists(),
        60,
        "every trace in the rollups",
        log,
    )

    with receiver([200]) as hook:
        channel = channel_create(project=drift, name="on-call", kind=Channel.Kind.WEBHOOK, url=hook.url)
        runbook = "https://runbooks.example.com/faithfulness"
        for project, channels in ((drift, [channel.pk]), (dip, [])):
            monitor = Monitor.objects.get(project=project, metric="score:faithfulness")
            monitor_update(monitor=monitor, runbook_url=runbook, channels=channels, enabled=True)

        _wait_for(lambda: hook.requests, 60, "the page at the webhook", log)
        # Three more beat ticks: the alert stays the one open alert and nobody is paged again.
        ticks = Monitor.objects.get(project=drift, metric="score:faithfulness").last_evaluated_at
        _wait_for(
            lambda: (
                Monitor.objects.get(project=drift, metric="score:faithfulness").last_evaluated_at
                >= ticks + timedelta(seconds=5)
            ),
            30,
            "three more evaluations",
            log,
        )
        assert len(hook.requests) == 1
        assert Alert.objects.filter(project=drift).count() == 1
        assert not Alert.objects.filter(project=dip).exists()

        got = hook.requests[0]
        signed = got["headers"]["X-Peekr-Timestamp"].encode() + b"." + got["body"]
        expected_sig = "sha256=" + hmac.new(channel.secret.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(got["headers"]["X-Peekr-Signature"], expected_sig)
        message = got["json"]

    alert = Alert.objects.get(project=drift)
    assert message["event"] == "alert.fired"
    assert message["payload"] == alert.payload  # the same payload in every channel, the API and the UI
    payload = alert.payload
    window = [datetime.fromisoformat(payload["window"]["start"]), datetime.fromisoformat(payload["window"]["end"])]
    base = [
        datetime.fromisoformat(payload["baseline_window"]["start"]),
        datetime.fromisoformat(payload["baseline_window"]["end"]),
    ]
    recent = _raw_faithfulness(drift, *_hours_covering(*window))
    before = _raw_faithfulness(drift, *_hours_covering(*base))
    assert payload["sample_size"] == len(recent)
    assert payload["mean_24h"] == pytest.approx(sum(recent) / len(recent), abs=1e-6)
    assert payload["baseline_7d"] == pytest.approx(sum(before) / len(before), abs=1e-6)
    assert payload["mean_24h"] < 0.75 < 0.8 < payload["baseline_7d"]
    assert payload["runbook_url"] == "https://runbooks.example.com/faithfulness"
    deploys = {(d["version"], d.get("commit", "")) for d in payload["deploys"]}
    assert ("2.4.1", "9f2c1ab") in deploys
    assert all(d["version"] != "2.4.0" for d in payload["deploys"])  # 8 days old: not a recent deploy
    assert len(payload["worst_traces"]) == 5
    worst_ids = [t["trace_id"] for t in payload["worst_traces"]]
    assert set(Trace.objects.filter(trace_id__in=worst_ids).values_list("release", flat=True)) == {"2.4.1"}
    assert payload["moved_most"]["text"].startswith("release 2.4.1: 0.5")

    # The dip: reviewed, not paged. What went to review are traces of the bad hour.
    reviewed = QueueItem.objects.filter(queue__project=dip, queue__name="Monitor review")
    assert reviewed.exists()
    hour_ago = now - timedelta(hours=1)
    assert all(item.trace.start_time >= hour_ago for item in reviewed.select_related("trace"))

    # Recovery: the bad release is rolled back and a day of normal traffic follows. The worker is stopped (its
    # beat evaluates at the real time); the same services it runs are called with the clock moved.
    stop_process_group(worker_with_beat)
    later = now + timedelta(hours=25)
    sender = Sender()
    for p in plan_hours(
        start=now, hours=25, per_hour=PER_HOUR, release_of=lambda h, i: "2.4.0", score_of=_score(False)
    ):
        sender.make(p)
    sender.post(client, drift_key)
    _process_in_process(drift)

    from alerts.services import monitors_evaluate

    with receiver([200]) as hook:
        Channel.objects.filter(pk=channel.pk).update(url=hook.url)
        monitors_evaluate(now=later, project=drift)
        alert.refresh_from_db()
        assert alert.state == Alert.State.RESOLVED
        resolved = Delivery.objects.get(alert=alert, event="resolved")
        from alerts.delivery import delivery_attempt

        delivery_attempt(delivery_pk=resolved.pk)
        assert [r["json"]["event"] for r in hook.requests] == ["alert.resolved"]


def _hours_covering(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Rollups are hourly: a window [start, end) reads the hours that begin in it, so its traces are those
    started from the first hour beginning at or after `start` up to the end of the hour `end` falls in."""

    def ceil_hour(at: datetime) -> datetime:
        floor = at.replace(minute=0, second=0, microsecond=0)
        return floor if floor == at else floor + timedelta(hours=1)

    return ceil_hour(start).astimezone(UTC), ceil_hour(end).astimezone(UTC)


def _process_in_process(project) -> None:
    from metrics.tasks import rollup_pending
    from traces.pipeline import pipeline_run
    from traces.services import traces_settle

    pks = list(Trace.objects.filter(project=project, completed_at__isnull=True).values_list("pk", flat=True))
    completed = traces_settle(trace_pks=pks, now=timezone.now() + timedelta(minutes=15)).completed
    assert sorted(completed) == sorted(pks)
    pipeline_run(trace_pks=completed)
    rollup_pending()
