"""What happens to a trace once it is complete: the stages other apps register, run in batches, never forgotten.

    ingest -> on_commit traces.trace_settle(trace pks)        (one task per ingested batch, after the quiet period)
      worker: services.traces_settle                          complete the quiet ones in three queries
        -> pipeline_run(completed pks), in the same task      (no second message queued behind other work)
             every registered Stage, in order, over the batch: evaluation (rules, judge scores to create),
             detectors, routing; a stage runs on a trace only once the stages before it are done, so routing
             reads the scores and findings of this completion. The bits of the stages that ran are added to
             Trace.stages_done at the end of the batch; processed_at is set once every bit is.
      beat: traces.pipeline_sweep                             completed traces a stage has not processed within
                                                              PEEKR_PIPELINE_SWEEP_AFTER_SECONDS (a message lost with
                                                              the broker, a worker killed mid-batch, a deploy)
                                                              are run again, in batches, at most
                                                              PIPELINE_MAX_ATTEMPTS times; results stay
                                                              exactly-once through each stage's unique keys.

A stage's handler takes a list of trace pks and must be idempotent. A handler that raises for a batch is run
again trace by trace, so one poisonous trace costs only itself (it stays unprocessed and the sweep retries it).
A late span reopens a trace (completed_at, stages_done and processed_at reset at ingest): it is processed again
when it completes again.

This module knows no app above traces: evals, insights and annotations register their stages in ready().
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from traces.models import Trace

log = logging.getLogger(__name__)

PIPELINE_MAX_ATTEMPTS = 5  # sweeps of one trace before it is reported as failed rather than behind
SWEEP_BATCH = 200


@dataclass(frozen=True)
class Stage:
    name: str  # "evaluate", "detect", "route": stable, shown in /healthz
    bit: int  # its bit in Trace.stages_done: stable across releases, unique
    order: int  # stages run in this order
    handler: Callable[[list[int]], object]
    label: str = ""  # for people: "Evaluations"
    # Skipped for shadow traffic (Trace.traffic "shadow": a candidate's answers nobody saw): review routing and
    # user signals are about what users experienced. The bit is still set, so later stages run.
    production_only: bool = False


STAGES: list[Stage] = []


def stage_register(stage: Stage) -> None:
    """Called from an app's ready(); registering the same stage twice is a no-op."""
    if any(s.name == stage.name for s in STAGES):
        return
    if any(s.bit == stage.bit for s in STAGES) or stage.bit <= 0 or stage.bit & (stage.bit - 1):
        raise ValueError(f"stage {stage.name}: bit {stage.bit} is taken or not a single bit")
    STAGES.append(stage)
    STAGES.sort(key=lambda s: s.order)


def all_stages_mask() -> int:
    mask = 0
    for stage in STAGES:
        mask |= stage.bit
    return mask


def pipeline_run(*, trace_pks: list[int]) -> dict[str, int]:
    """Run every stage a completed trace still needs, in order, over the batch. Returns traces run per stage.

    The stages' bits are written at the end, with processed_at, in one UPDATE per outcome (one in the usual
    case where every stage ran on every trace): a trace row rewritten once per stage left PostgreSQL four dead
    row versions per trace to vacuum. A worker killed before that write leaves the batch to the sweep, whose
    re-run changes nothing (every stage is idempotent)."""
    rows = Trace.objects.filter(pk__in=trace_pks, completed_at__isnull=False).values_list(
        "pk", "stages_done", "is_internal", "traffic"
    )
    done = {pk: bits for pk, bits, internal, _ in rows if not internal}
    shadow = {pk for pk, _, internal, traffic in rows if not internal and traffic == "shadow"}
    _skip_internal([pk for pk, _, internal, _ in rows if internal])
    ran: dict[str, int] = {}
    gained: dict[int, int] = dict.fromkeys(done, 0)
    before = 0
    for stage in STAGES:
        todo = sorted(pk for pk, bits in done.items() if bits & before == before and not bits & stage.bit)
        before |= stage.bit
        if not todo:
            continue
        if stage.production_only and shadow:
            for pk in (pk for pk in todo if pk in shadow):
                done[pk] |= stage.bit
                gained[pk] |= stage.bit
            todo = [pk for pk in todo if pk not in shadow]
            if not todo:
                continue
        for pk in _run_stage(stage, todo):
            done[pk] |= stage.bit
            gained[pk] |= stage.bit
        ran[stage.name] = len(todo)
    _mark(done, gained)
    return ran


def _skip_internal(pks: list[int]) -> None:
    """Peekr's own traces (judge calls) are never evaluated, detected or routed: processed as they complete."""
    if pks:
        Trace.objects.filter(pk__in=pks, completed_at__isnull=False).update(
            stages_done=all_stages_mask(), processed_at=timezone.now()
        )


def _mark(done: dict[int, int], gained: dict[int, int]) -> None:
    """Add each trace's new stage bits; processed_at for those that now have all. A trace reopened meanwhile
    (completed_at NULL again: ingest reset it) is left alone."""
    mask = all_stages_mask()
    outcomes: dict[tuple[int, bool], list[int]] = {}
    for pk, bits in gained.items():
        if bits:
            outcomes.setdefault((bits, done[pk] & mask == mask), []).append(pk)
    now = timezone.now()
    for (bits, finished), pks in outcomes.items():
        changes = {"stages_done": F("stages_done").bitor(bits), **({"processed_at": now} if finished else {})}
        Trace.objects.filter(pk__in=pks, completed_at__isnull=False).update(**changes)


def _run_stage(stage: Stage, todo: list[int]) -> list[int]:
    """The pks the stage processed; a failing batch is retried one trace at a time."""
    try:
        stage.handler(todo)
        return todo
    except Exception:  # noqa: BLE001 - one stage's failure must not cost the batch or the other stages
        log.exception("pipeline stage %s failed on a batch of %d traces; retrying one by one", stage.name, len(todo))
    ok = []
    for pk in todo:
        try:
            stage.handler([pk])
        except Exception:  # noqa: BLE001
            log.exception("pipeline stage %s failed on trace %s; the sweep will try again", stage.name, pk)
        else:
            ok.append(pk)
    return ok


def traces_to_sweep(*, now=None, limit: int = 2000) -> list[int]:
    """Completed traces some stage has not processed within the sweep delay, oldest first; their attempt
    counter is raised (a trace that keeps failing is left alone after PIPELINE_MAX_ATTEMPTS)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PEEKR_PIPELINE_SWEEP_AFTER_SECONDS)
    stale = list(
        Trace.objects.filter(
            completed_at__isnull=False,
            processed_at__isnull=True,
            completed_at__lte=cutoff,
            pipeline_attempts__lt=PIPELINE_MAX_ATTEMPTS,
        )
        .order_by("completed_at")
        .values_list("pk", flat=True)[:limit]
    )
    if stale:
        Trace.objects.filter(pk__in=stale).update(pipeline_attempts=F("pipeline_attempts") + 1)
    return stale


def batches(pks: list[int], size: int = SWEEP_BATCH) -> list[list[int]]:
    return [pks[i : i + size] for i in range(0, len(pks), size)]
