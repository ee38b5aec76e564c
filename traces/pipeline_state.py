"""Is the after-completion pipeline (traces.pipeline) keeping up? Read by /healthz, the page notice and the
Evaluations page's lag chart.

Per stage: the completed traces still lacking its bit (``waiting``) and the age of the oldest of them
(``oldest_seconds``), all stages read in ONE query through the partial index ``trace_unprocessed`` (completed,
unprocessed); traces past PIPELINE_MAX_ATTEMPTS sweeps are ``failed``, counted apart: they will not catch up on
their own, so they never make the pipeline "behind". Queue depths come from the broker (``null`` when it does not
answer). The pipeline is behind when a stage's oldest waiting trace is older than PEEKR_PIPELINE_BEHIND_SECONDS.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from traces.models import PipelineSample, Trace
from traces.pipeline import PIPELINE_MAX_ATTEMPTS, STAGES

log = logging.getLogger(__name__)

QUEUES = ("celery", "judges")  # settings.CELERY_TASK_ROUTES: the pipeline's batches and the judge calls
SAMPLES_KEPT = timedelta(days=7)


def stage_backlog(*, now: datetime | None = None) -> dict:
    """{"stages": {name: {"waiting": n, "oldest_seconds": s | None}}, "failed": n} in one query."""
    now = now or timezone.now()
    annotations = {f"b_{s.name}": F("stages_done").bitand(s.bit) for s in STAGES}
    live = Q(pipeline_attempts__lt=PIPELINE_MAX_ATTEMPTS)
    aggregates = {"failed": Count("pk", filter=~live)}
    for s in STAGES:
        lacking = live & Q(**{f"b_{s.name}": 0})
        aggregates[f"{s.name}_waiting"] = Count("pk", filter=lacking)
        aggregates[f"{s.name}_oldest"] = Min("completed_at", filter=lacking)
    row = (
        Trace.objects.filter(completed_at__isnull=False, processed_at__isnull=True)  # the partial index's condition
        .annotate(**annotations)
        .aggregate(**aggregates)
    )
    stages = {}
    for s in STAGES:
        oldest = row[f"{s.name}_oldest"]
        stages[s.name] = {
            "waiting": row[f"{s.name}_waiting"] or 0,
            "oldest_seconds": round(max((now - oldest).total_seconds(), 0.0), 1) if oldest else None,
        }
    return {"stages": stages, "failed": row["failed"] or 0}


def is_behind(oldest_seconds: float | None) -> bool:
    return oldest_seconds is not None and oldest_seconds > settings.PEEKR_PIPELINE_BEHIND_SECONDS


def queue_depths(queues: tuple[str, ...] = QUEUES) -> dict[str, int | None]:
    """Messages waiting in each queue; None for all when the broker does not answer (never raises)."""
    from peekr_web.celery import app  # the project's Celery app: traces knows no module above it at import

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return {name: _queue_depth(conn, name) for name in queues}
    except Exception as exc:  # noqa: BLE001 - a health figure must not take the page down with the broker
        log.warning("queue depths unavailable: %s", exc)
        return dict.fromkeys(queues)


def _queue_depth(conn, name: str) -> int:
    # A passive declare counts without creating; Redis keeps no key for an empty queue, so "no such queue" is 0.
    # A failed passive declare closes the channel on AMQP brokers: one channel per queue.
    channel = conn.channel()
    try:
        return channel.queue_declare(queue=name, passive=True).message_count
    except conn.channel_errors as exc:
        if "NOT_FOUND" in str(exc):
            return 0
        raise
    finally:
        with contextlib.suppress(Exception):
            channel.close()


def pipeline_state(*, now: datetime | None = None, queues: bool = True) -> dict:
    """Everything /healthz reports: the stages' backlog, failed traces, queue depths, and whether it is behind."""
    state = stage_backlog(now=now)
    state["queues"] = queue_depths() if queues else dict.fromkeys(QUEUES)
    state["behind_seconds"] = settings.PEEKR_PIPELINE_BEHIND_SECONDS
    state["behind"] = any(is_behind(s["oldest_seconds"]) for s in state["stages"].values())
    return state


def pipeline_sample_record(*, now: datetime | None = None) -> int:
    """Write this minute's backlog of every stage (once per minute, whoever runs it) and forget samples older
    than a week. Returns the samples written."""
    now = now or timezone.now()
    at = now.replace(second=0, microsecond=0)
    stages = stage_backlog(now=now)["stages"]
    rows = [
        PipelineSample(at=at, stage=name, waiting=s["waiting"], oldest_seconds=s["oldest_seconds"])
        for name, s in stages.items()
    ]
    PipelineSample.objects.bulk_create(rows, ignore_conflicts=True)
    PipelineSample.objects.filter(at__lt=now - SAMPLES_KEPT).delete()
    return len(rows)


def pipeline_samples(*, stage: str, since: datetime) -> list[dict]:
    """A stage's samples since a moment, oldest first: [{"at", "waiting", "oldest_seconds"}]."""
    return list(
        PipelineSample.objects.filter(stage=stage, at__gte=since)
        .order_by("at")
        .values("at", "waiting", "oldest_seconds")
    )


def human_duration(seconds: float) -> str:
    """ "45 s", "4 min", "2 h 5 min", "3 days": how long, as a person says it."""
    seconds = max(int(seconds), 0)
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{round(hours / 24)} days"


def behind_notice(backlog: dict, stage_name: str = "evaluate") -> str:
    """ "Evaluations are 4 min behind: 12,400 traces waiting", or "" when the stage keeps up."""
    stage = next((s for s in STAGES if s.name == stage_name), None)
    figures = backlog["stages"].get(stage_name)
    if stage is None or figures is None or not is_behind(figures["oldest_seconds"]):
        return ""
    waiting = figures["waiting"]
    noun = "trace" if waiting == 1 else "traces"
    return f"{stage.label or stage.name} are {human_duration(figures['oldest_seconds'])} behind: {waiting:,} {noun} waiting"
