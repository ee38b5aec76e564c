"""Run a rule on existing traces: a time range and a trace filter, evaluated by the worker in batches.

backfill_start counts the matching completed traces and queues the first batch; each batch (the task
``evals.backfill_run``) is evaluated by the live path itself (services.traces_evaluate_batch with this rule
only): the same sampling and triggers, the same score keys, so a trace the rule already scored (live or by an
earlier backfill) gets nothing twice; its judge evaluations go to the judges queue like live ones, reserved
against the rule's daily cap (evals.budget) like live ones. Each batch then queues the next: a cancel (the
job's status) stops it before its next batch, and the worker is never held by one job for long.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from evals.models import Backfill, EvalRule
from peekr_web.errors import Invalid
from traces.models import Trace
from traces.selectors import TraceFilters, traces_filtered


class BackfillInvalid(Invalid, ValueError):
    pass


def trace_filters(*, start: datetime, end: datetime, filters: dict) -> TraceFilters:
    """TraceFilters from a job's stored filters: only the fields TraceFilters has, each cast to its default's
    type (text, a number, yes/no); the time range is the job's."""
    known = {f.name: f for f in dataclasses.fields(TraceFilters)}
    kwargs: dict = {}
    for name, raw in (filters or {}).items():
        f = known.get(name)
        if f is None or name in ("start_after", "start_before", "include_internal", "pk_in") or raw in ("", None):
            continue
        default = f.default
        if isinstance(default, str):
            kwargs[name] = str(raw)
        elif isinstance(raw, bool) or str(raw).lower() in ("true", "false", "yes", "no"):
            kwargs[name] = raw if isinstance(raw, bool) else str(raw).lower() in ("true", "yes")
        else:
            try:
                kwargs[name] = float(raw)
            except (TypeError, ValueError):
                continue
    return TraceFilters(start_after=start, start_before=end, **kwargs)


def backfill_traces(job: Backfill) -> QuerySet[Trace]:
    """The completed traces the job covers (internal ones never: traces_filtered leaves them out)."""
    f = trace_filters(start=job.start, end=job.end, filters=job.filters)
    return traces_filtered(project=job.project, filters=f).exclude(completed_at=None)


def backfill_start(
    *, rule: EvalRule, start: datetime, end: datetime, filters: dict | None = None, user=None
) -> Backfill:
    """Queue a run of ``rule`` on the completed traces that started in [start, end) and match ``filters``."""
    if rule.status != EvalRule.Status.ACTIVE:
        raise BackfillInvalid("the rule is paused: resume it first (a paused rule evaluates nothing)")
    if start >= end:
        raise BackfillInvalid("the range must start before it ends")
    if Backfill.objects.filter(rule=rule, status__in=[Backfill.Status.QUEUED, Backfill.Status.RUNNING]).exists():
        raise BackfillInvalid("this rule already has a backfill running: cancel it or wait for it to finish")
    job = Backfill(project=rule.project, rule=rule, created_by=user, start=start, end=end, filters=filters or {})
    job.total = backfill_traces(job).count()
    job.save()
    from evals.tasks import backfill_run

    transaction.on_commit(lambda: backfill_run.delay(job.pk))
    return job


def backfill_cancel(*, job: Backfill) -> bool:
    """Stop the job before its next batch; False when it had already finished."""
    return bool(
        Backfill.objects.filter(pk=job.pk, status__in=[Backfill.Status.QUEUED, Backfill.Status.RUNNING]).update(
            status=Backfill.Status.CANCELLED, finished_at=timezone.now()
        )
    )


def backfill_step(*, backfill_pk: int, batch: int | None = None) -> bool:
    """Evaluate the job's next batch of traces; True when another batch is left. Idempotent: a batch run twice
    (a redelivered message, a worker killed before it moved the cursor) writes no score twice."""
    from evals.services import traces_evaluate_batch
    from evals.tasks import run_judge

    batch = batch or settings.PEEKR_BACKFILL_BATCH
    job = Backfill.objects.select_related("project", "rule__judge_connection").filter(pk=backfill_pk).first()
    if job is None or not job.active:
        return False
    if job.status == Backfill.Status.QUEUED:
        now = timezone.now()
        if not Backfill.objects.filter(pk=job.pk, status=Backfill.Status.QUEUED).update(
            status=Backfill.Status.RUNNING, started_at=now
        ):
            return False  # cancelled meanwhile
        job.status, job.started_at = Backfill.Status.RUNNING, now
    pks = list(backfill_traces(job).filter(pk__gt=job.cursor).order_by("pk").values_list("pk", flat=True)[:batch])
    if not pks:
        Backfill.objects.filter(pk=job.pk, status=Backfill.Status.RUNNING).update(
            status=Backfill.Status.DONE, finished_at=timezone.now()
        )
        return False
    pending = traces_evaluate_batch(trace_pks=pks, only_rule=job.rule)
    for score_pk in pending:  # created pending: they run whatever happens to the job (as live ones would)
        transaction.on_commit(lambda pk=score_pk: run_judge.delay(pk))
    # Counted even when cancelled meanwhile: the batch in flight was evaluated, and the row says so.
    Backfill.objects.filter(pk=job.pk).update(
        done=F("done") + len(pks), cursor=pks[-1], judgements=F("judgements") + len(pending)
    )
    running = Backfill.objects.filter(pk=job.pk, status=Backfill.Status.RUNNING)
    if len(pks) < batch:
        running.update(status=Backfill.Status.DONE, finished_at=timezone.now())
        return False
    return running.exists()


def backfill_fail(*, backfill_pk: int, error: str) -> None:
    Backfill.objects.filter(pk=backfill_pk, status__in=[Backfill.Status.QUEUED, Backfill.Status.RUNNING]).update(
        status=Backfill.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def rule_backfills(*, rule: EvalRule, limit: int = 5) -> list[Backfill]:
    return list(Backfill.objects.filter(rule=rule).order_by("-created_at", "-pk")[:limit])
