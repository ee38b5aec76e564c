"""Retention: a project's policy (read, changed) and the job that applies it (traces/retention.py has the rules).

retention_run, every day from beat (traces.retention) and from ``manage.py peekr_retention``:
1. PostgreSQL: the span partitions for the coming weeks are created (traces/partitions.py).
2. Per project, the content passes (retention.content_passes), each over [where it stopped less a day, its
   cutoff), one UTC day at a time (a day lies in one partition) and within a day by windows of ``batch`` span
   ids (an index range on both databases, never a rescan): the spans without the expired marker are read for
   their traces, the apps say which of those are flagged (traces.extensions.retention_flagged), and one UPDATE
   empties the content of the others' spans and sets the marker; their traces get ``content_expired_at`` and lose
   their previews. GenAI log records past the content tier are deleted.
3. Past the record tier: on PostgreSQL the partitions wholly older than every project's record cutoff are
   detached and dropped (instant); then each project's traces that started before its cutoff are deleted in
   batches, with what Django cascades to (spans left in newer partitions, scores, findings, signals, review
   items, rollup shares), and its OTLP metric points; the apps purge what no trace holds (metrics' rollups).

Idempotent and resumable: every batch commits on its own, the marker makes a second pass skip what is done, a
pass's progress is saved once it reaches its cutoff, and deletes are by cutoff. A dry run counts, per step, what
it would remove, and writes nothing but its RetentionRun row. Every step is logged and recorded in the run row.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from traces import extensions, partitions, retention
from traces.audit import audit_record
from traces.models import LogEvent, MetricPoint, Project, RetentionPolicy, RetentionRun, Span, Trace

log = logging.getLogger(__name__)

TRACE_DELETE_BATCH = 500


DAYS_FIELDS = ("content_days", "flagged_days", "record_days")


class PolicyError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def retention_policy_for(project: Project) -> RetentionPolicy:
    """The project's policy; the defaults (unsaved) when it never changed it."""
    found = RetentionPolicy.objects.filter(project=project).first()
    return found or RetentionPolicy(project=project)


def retention_policy_set(
    *,
    project: Project,
    content_days: int,
    flagged_days: int,
    record_days: int,
    actor_user=None,
    actor_key=None,
    actor_token=None,
) -> RetentionPolicy:
    """Change a project's retention (PolicyError when inconsistent); a change is written to the audit log with
    who made it (a person, a key, or a person through a personal token) and the days before and after."""
    errors = retention.days_errors(content_days=content_days, flagged_days=flagged_days, record_days=record_days)
    if errors:
        raise PolicyError(errors)
    with transaction.atomic():
        policy, _ = RetentionPolicy.objects.select_for_update().get_or_create(project=project)
        before = {f: getattr(policy, f) for f in DAYS_FIELDS}
        policy.content_days, policy.flagged_days, policy.record_days = content_days, flagged_days, record_days
        policy.updated_at = timezone.now()
        policy.save()
        after = {f: getattr(policy, f) for f in DAYS_FIELDS}
        if before != after:
            audit_record(
                project=project,
                actor_user=actor_user,
                actor_key=actor_key,
                actor_token=actor_token,
                action="retention.update",
                target="retention",
                details={"before": before, "after": after},
            )
    return policy


class _Run:
    """One run's state: the row it reports into, the clock, dry-run, batch size and the pause between batches."""

    def __init__(self, row: RetentionRun, *, batch: int, pause: float):
        self.row, self.dry_run, self.now = row, row.dry_run, row.now
        self.batch, self.pause = batch, pause

    def record(self, **entry) -> None:
        if entry.get("rows") or entry.get("step") == "partition":
            self.row.removed.append(entry)
            log.info("retention%s: %s", " (dry run)" if self.dry_run else "", entry)

    def breathe(self) -> None:
        if self.pause and not self.dry_run:
            time.sleep(self.pause)


def retention_run(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    project: Project | None = None,
    batch: int | None = None,
    pause: float | None = None,
) -> RetentionRun:
    """Apply every project's retention (or one project's); returns the run's row (``removed``: what, how many)."""
    now = now or timezone.now()
    row = RetentionRun.objects.create(now=now, dry_run=dry_run)
    run = _Run(
        row,
        batch=batch or settings.PEEKR_RETENTION_BATCH,
        pause=settings.PEEKR_RETENTION_PAUSE_SECONDS if pause is None else pause,
    )
    try:
        if partitions.is_partitioned() and not dry_run:
            for name in partitions.partitions_ensure(now):
                run.record(step="partition", what=f"created {name}", rows=0)
        projects = [project] if project is not None else list(Project.objects.order_by("pk"))
        policies = {p.pk: retention_policy_for(p) for p in projects}
        for p in projects:
            _content(run, p, policies[p.pk])
        _partitions_past(run, policies)
        for p in projects:
            _records(run, p, policies[p.pk])
    except Exception as exc:
        row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"
        row.finished_at = timezone.now()
        row.save()
        log.exception("retention run %s failed", row.pk)
        raise
    row.status, row.finished_at = "done", timezone.now()
    row.save()
    return row


# --- Content ---


def _content(run: _Run, project: Project, policy: RetentionPolicy) -> None:
    earliest = Trace.objects.filter(project=project).aggregate(t=Min("start_time"))["t"]
    progress = dict(policy.progress or {})
    for p in retention.content_passes(content_days=policy.content_days, flagged_days=policy.flagged_days, now=run.now):
        start = retention.pass_start(progress, p.name, earliest)
        rows = traces = 0
        if start is not None and start < p.cutoff:
            for lo, hi in retention.day_windows(start, p.cutoff):
                r, t = _expire_window(run, project, p, lo, hi)
                rows, traces = rows + r, traces + t
        run.record(
            project=project.pk,
            step=f"content:{p.name}",
            what=f"spans started before {p.cutoff:%Y-%m-%d %H:%M}",
            rows=rows,
            traces=traces,
        )
        progress[p.name] = p.cutoff.isoformat()
    cutoff = run.now - timedelta(days=policy.content_days)
    events = LogEvent.objects.filter(project=project, received_at__lt=cutoff)
    run.record(
        project=project.pk,
        step="content:log_events",
        what=f"received before {cutoff:%Y-%m-%d}",
        rows=_delete_batched(run, events),
    )
    if not run.dry_run and policy.pk is not None:
        RetentionPolicy.objects.filter(pk=policy.pk).update(progress=progress)
    elif not run.dry_run:
        RetentionPolicy.objects.update_or_create(project=project, defaults={"progress": progress})


def _expire_window(run: _Run, project: Project, p: retention.Pass, lo: datetime, hi: datetime) -> tuple[int, int]:
    """Empty the content of one day's spans of one project (in id windows); returns (spans, traces expired)."""
    day = Span.objects.filter(project=project, start_time__gte=lo, start_time__lt=hi).exclude(
        attributes__has_key=retention.EXPIRED_MARKER
    )
    if p.retention_class:
        day = day.filter(**{f"attributes__{retention.CLASS_ATTRIBUTE}": p.retention_class})
    bounds = day.aggregate(lo=Min("id"), hi=Max("id"))
    rows = traces = 0
    stamp = run.now.isoformat()
    for a, b in retention.id_windows(bounds["lo"], bounds["hi"], run.batch):
        window = day.filter(id__gte=a, id__lt=b)
        trace_pks = sorted(set(window.values_list("trace_id", flat=True)))
        if not trace_pks:
            continue
        kept = extensions.retention_flagged(project, trace_pks) if p.keep_flagged else set()
        if kept:
            window = window.exclude(trace_id__in=sorted(kept))
        expired_traces = [pk for pk in trace_pks if pk not in kept]
        if run.dry_run:
            rows += window.count()
            traces += len(expired_traces)
            continue
        with transaction.atomic():
            n = window.update(**retention.CONTENT_CLEARED, attributes={retention.EXPIRED_MARKER: stamp})
            if not p.retention_class and expired_traces:
                traces += Trace.objects.filter(pk__in=expired_traces, content_expired_at__isnull=True).update(
                    content_expired_at=run.now, input_preview="", output_preview=""
                )
        rows += n
        run.breathe()
    return rows, traces


# --- Records ---


def _partitions_past(run: _Run, policies: dict[int, RetentionPolicy]) -> None:
    """PostgreSQL: drop the span partitions older than every project's record cutoff (a project without a
    policy keeps the default 365 days)."""
    if not partitions.is_partitioned():
        return
    longest = max([p.record_days for p in policies.values()] + [retention.DEFAULT_RECORD_DAYS])
    if len(policies) < Project.objects.count():  # a run for one project: the others' policies count too
        longest = max([longest, *RetentionPolicy.objects.values_list("record_days", flat=True)])
    cutoff = retention.record_cutoff(record_days=longest, now=run.now)
    for name in retention.partitions_expired(partitions.partitions_list(), cutoff):
        rows = partitions.partition_rows(name)
        if not run.dry_run:
            partitions.partition_drop(name)
        run.record(step="partition", what=f"dropped {name} (spans before {cutoff:%Y-%m-%d})", rows=rows)


def _records(run: _Run, project: Project, policy: RetentionPolicy) -> None:
    cutoff = retention.record_cutoff(record_days=policy.record_days, now=run.now)
    old = Trace.objects.filter(project=project, start_time__lt=cutoff)
    if run.dry_run:
        n_traces = old.count()
        n_spans = Span.objects.filter(trace__in=old).count()
    else:
        n_traces = n_spans = 0
        while True:
            pks = list(old.order_by("pk").values_list("pk", flat=True)[:TRACE_DELETE_BATCH])
            if not pks:
                break
            with transaction.atomic():
                _, by_model = Trace.objects.filter(pk__in=pks).delete()
            n_traces += by_model.get("traces.Trace", 0)
            n_spans += by_model.get("traces.Span", 0)
            run.breathe()
    what = f"started before {cutoff:%Y-%m-%d}"
    run.record(project=project.pk, step="records:traces", what=what, rows=n_traces)
    run.record(
        project=project.pk, step="records:spans", what=f"of traces {what} (not in a dropped partition)", rows=n_spans
    )
    points = MetricPoint.objects.filter(project=project, time__lt=cutoff)
    run.record(project=project.pk, step="records:metric_points", what=what, rows=_delete_batched(run, points))
    for label, rows in extensions.retention_purge(project, cutoff, dry_run=run.dry_run).items():
        run.record(project=project.pk, step=f"records:{label}", what=what, rows=rows)


def _delete_batched(run: _Run, qs) -> int:
    """Delete a queryset's rows by batches of primary keys (count them on a dry run)."""
    if run.dry_run:
        return qs.count()
    total = 0
    while True:
        pks = list(qs.order_by("pk").values_list("pk", flat=True)[: run.batch])
        if not pks:
            return total
        total += qs.model.objects.filter(pk__in=pks).delete()[0]
        run.breathe()


def retention_runs_recent(limit: int = 10) -> list[RetentionRun]:
    return list(RetentionRun.objects.order_by("-started_at")[:limit])
