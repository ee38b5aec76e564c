"""Writes of metrics: the rollup stage, its re-run queue (RollupPending), deploys, the 12-month purge.

The rollup stage runs in the worker after routing (traces.pipeline, bit 8). Per batch, in one transaction:
lock the batch's traces (PostgreSQL advisory locks, in pk order: two workers never apply the same trace at
once, and ingest's row locks on Trace are left alone), read traces, spans, scores and signals for the whole
batch, compute each trace's contribution (metrics.contribution), and replace its previous one in the rollup
rows: the rows are created if missing (INSERT ... ON CONFLICT DO NOTHING, keys sorted), locked with SELECT ...
FOR UPDATE in one order, merged in Python and written back. UserCost is a plain sum: one INSERT ... ON CONFLICT
DO UPDATE adding the delta. SQLite has one writer at a time (IMMEDIATE transactions), so the locks are not
needed there.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from evals.models import Score
from metrics.accumulators import data_add
from metrics.contribution import (
    EXCLUDED_SCORE_MODES,
    EXCLUDED_SCORE_SOURCES,
    SHADOW_DIM,
    Contribution,
    rollup_ops,
    trace_contribution,
)
from metrics.models import Deploy, Rollup, RollupPending, TraceContribution, UserCost
from peekr_web.errors import Invalid
from traces.models import Project, Span, Trace

log = logging.getLogger(__name__)

RETENTION_DAYS = 366  # "12 months for drift review"
PENDING_BATCH = 200
LOCK_CLASS = 0x504B  # advisory lock namespace of the rollup stage ("PK")
TRACE_FIELDS = (
    "pk",
    "project_id",
    "name",
    "start_time",
    "duration_ms",
    "status",
    "error_count",
    "cost",
    "session_id",
    "user_id",
    "release",
    "models_used",
    "root_span_id",
    "traffic",
)


def traces_rollup(trace_pks: list[int]) -> int:
    """The pipeline's rollup stage: each trace's contribution replaces its previous one. Idempotent. Returns the
    traces applied."""
    if not trace_pks:
        return 0
    with transaction.atomic():
        _lock_traces(sorted(set(trace_pks)))
        traces = list(Trace.objects.filter(pk__in=trace_pks, is_internal=False).order_by().values(*TRACE_FIELDS))
        if not traces:
            return 0
        pks = [t["pk"] for t in traces]
        spans, scores, signals = _rows(pks)
        completed = _sessions_completed(traces)
        old = {
            c["trace_id"]: c
            for c in TraceContribution.objects.filter(trace_id__in=pks).values(
                "trace_id", "hour", "dims", "data", "user_id", "cost"
            )
        }
        new: dict[int, Contribution] = {}
        for t in traces:
            new[t["pk"]] = trace_contribution(
                t,
                spans.get(t["pk"], []),
                scores.get(t["pk"], []),
                signals.get(t["pk"], []),
                session_completed=(t["project_id"], t["session_id"]) in completed,
            )
        by_project: dict[int, list[int]] = {}
        for t in traces:
            by_project.setdefault(t["project_id"], []).append(t["pk"])
        ops: dict[tuple, list] = {}
        for project_id, project_pks in by_project.items():
            ops.update(rollup_ops(project_id, [(old.get(pk), new[pk]) for pk in project_pks]))
        _rollups_apply(ops)
        _user_costs_apply(traces, old, new)
        now = timezone.now()
        TraceContribution.objects.bulk_create(
            [
                TraceContribution(
                    trace_id=pk,
                    project_id=t["project_id"],
                    hour=c.hour,
                    dims=c.dims,
                    data=c.data,
                    user_id=c.user_id,
                    cost=c.cost,
                    updated_at=now,
                )
                for t in traces
                for pk, c in [(t["pk"], new[t["pk"]])]
            ],
            update_conflicts=True,
            unique_fields=["trace"],
            update_fields=["project", "hour", "dims", "data", "user_id", "cost", "updated_at"],
        )
        _deploys_from_traces(traces, new)
    return len(traces)


def _lock_traces(pks: list[int]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int[]) AS k",
                [LOCK_CLASS, sorted({pk & 0x7FFFFFFF for pk in pks})],
            )


def _rows(pks: list[int]) -> tuple[dict, dict, dict]:
    from signals.models import Signal

    spans: dict[int, list[dict]] = {}
    span_rows = (
        Span.objects.filter(trace_id__in=pks)
        .order_by()
        .annotate(
            env_name=KeyTextTransform("deployment.environment.name", "resource"),
            env=KeyTextTransform("deployment.environment", "resource"),
        )
        .values(
            "trace_id",
            "span_id",
            "parent_span_id",
            "kind",
            "status",
            "duration_ms",
            "ttft_ms",
            "output_tokens",
            "sdk_scores",
            "env_name",
            "env",
        )
    )
    for s in span_rows:
        # The root span's resource says the environment (every span of a process shares it; the root wins).
        s["environment"] = (s["env_name"] or s["env"] or "") if not s["parent_span_id"] else ""
        spans.setdefault(s["trace_id"], []).append(s)
    for rows in spans.values():
        if not any(r["environment"] for r in rows):
            for r in rows:
                if r["env_name"] or r["env"]:
                    r["environment"] = r["env_name"] or r["env"]
                    break
    scores: dict[int, list[dict]] = {}
    score_rows = Score.objects.filter(trace_id__in=pks, status=Score.Status.DONE).exclude(
        source__in=EXCLUDED_SCORE_SOURCES
    )
    if hasattr(Score, "mode"):  # a shadow evaluator's scores never reach a rollup, so never a monitor
        score_rows = score_rows.exclude(mode__in=EXCLUDED_SCORE_MODES)
    for s in score_rows.order_by().values("trace_id", "evaluator", "value", "passed"):
        scores.setdefault(s["trace_id"], []).append(s)
    signals: dict[int, list[dict]] = {}
    for s in Signal.objects.filter(trace_id__in=pks).order_by().values("trace_id", "kind", "value"):
        signals.setdefault(s["trace_id"], []).append(s)
    return spans, scores, signals


def _sessions_completed(traces: list[dict]) -> set[tuple[int, str]]:
    """(project, session) pairs of the batch with a task-completed signal: one query per project in the batch."""
    from signals import selectors as signal_selectors

    wanted: dict[int, set[str]] = {}
    for t in traces:
        if t["session_id"]:
            wanted.setdefault(t["project_id"], set()).add(t["session_id"])
    out: set[tuple[int, str]] = set()
    for project_id, sessions in wanted.items():
        finder = getattr(signal_selectors, "sessions_completed", None)
        if finder is not None:
            done = finder(Project(pk=project_id), list(sessions))
        else:  # until signals provides it: the same question, asked directly
            from signals.models import Signal

            done = set(
                Signal.objects.filter(project_id=project_id, kind="task_completed", session_id__in=sessions)
                .order_by()
                .values_list("session_id", flat=True)
                .distinct()
            )
        out.update((project_id, s) for s in done)
    return out


def _rollups_apply(ops: dict[tuple, list]) -> None:
    """Apply each rollup key's operations to its row, the rows created if missing and locked in key order."""
    if not ops:
        return
    keys = sorted(ops)  # one order for every worker: the inserts below take locks in it
    Rollup.objects.bulk_create(
        [Rollup(project_id=p, dim=d, value=v, hour=h) for p, d, v, h in keys], ignore_conflicts=True
    )
    wanted = set(keys)
    rows = (
        Rollup.objects.filter(
            project_id__in={k[0] for k in keys},
            dim__in={k[1] for k in keys},
            value__in={k[2] for k in keys},
            hour__in={k[3] for k in keys},
        )
        .order_by("project_id", "dim", "value", "hour")
        .select_for_update()
    )
    now = timezone.now()
    changed, empty = [], []
    for row in rows:
        key = (row.project_id, row.dim, row.value, row.hour)
        if key not in wanted:
            continue
        for data, sign in ops[key]:
            row.data = data_add(row.data, data, sign)
            row.traces += sign
        row.updated_at = now
        (empty if row.traces <= 0 else changed).append(row)
    if changed:
        Rollup.objects.bulk_update(changed, ["data", "traces", "updated_at"], batch_size=500)
    if empty:
        Rollup.objects.filter(pk__in=[r.pk for r in empty]).delete()


def _user_costs_apply(traces: list[dict], old: dict, new: dict[int, Contribution]) -> None:
    delta: dict[tuple, list[float]] = {}
    for t in traces:
        before, after = old.get(t["pk"]), new[t["pk"]]
        if before is not None and before["user_id"]:
            d = delta.setdefault((t["project_id"], before["hour"], before["user_id"]), [0.0, 0])
            d[0] -= before["cost"]
            d[1] -= 1
        if after.user_id:
            d = delta.setdefault((t["project_id"], after.hour, after.user_id), [0.0, 0])
            d[0] += after.cost
            d[1] += 1
    rows = [(p, h, u, c, n) for (p, h, u), (c, n) in sorted(delta.items()) if n or abs(c) > 1e-12]
    if not rows:
        return
    table = UserCost._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (project_id, hour, user_id, cost, traces) VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (project_id, hour, user_id) DO UPDATE SET cost = {table}.cost + EXCLUDED.cost, "
            f"traces = {table}.traces + EXCLUDED.traces",
            [(p, _db_time(h), u, c, n) for p, h, u, c, n in rows],
        )


def _db_time(at: datetime):
    from django.db.models import DateTimeField

    return DateTimeField().get_db_prep_value(at, connection)


def _deploys_from_traces(traces: list[dict], new: dict[int, Contribution]) -> None:
    """A Deploy for the first trace seen with a new release (service.version), unless one exists."""
    first: dict[tuple[int, str], tuple[datetime, str]] = {}
    for t in traces:
        key = (t["project_id"], t["release"][:100])
        if not t["release"] or SHADOW_DIM in new[t["pk"]].dims:  # shadow traffic is not a deploy
            continue
        env = new[t["pk"]].dims.get("environment", "")[:100]
        if key not in first or t["start_time"] < first[key][0]:
            first[key] = (t["start_time"], env)
    if not first:
        return
    existing = set(
        Deploy.objects.filter(project_id__in={p for p, _ in first}, version__in={v for _, v in first})
        .order_by()
        .values_list("project_id", "version")
    )
    now = timezone.now()
    missing = [
        Deploy(
            project_id=p,
            version=v,
            environment=env,
            at=at,
            source=Deploy.Source.TRACES,
            created_at=now,
            description="first trace seen with this release",
        )
        for (p, v), (at, env) in first.items()
        if (p, v) not in existing
    ]
    if missing:
        Deploy.objects.bulk_create(missing, ignore_conflicts=True)


# ---------------------------------------------------------------- re-runs: judge scores, feedback, signals


def rollup_pending_add(*, trace_pks: list[int], sessions: bool = False) -> None:
    """Queue traces whose contribution must be computed again; `sessions`: every trace of their sessions too
    (a task-completed signal changes the cost per successful task of the whole session)."""
    pks = set(trace_pks)
    if sessions and pks:
        pairs = Trace.objects.filter(pk__in=pks).exclude(session_id="").values_list("project_id", "session_id")
        for project_id, session_id in set(pairs):
            pks.update(Trace.objects.filter(project_id=project_id, session_id=session_id).values_list("pk", flat=True))
    if not pks:
        return
    now = timezone.now()
    # created_at moves forward on a second insert: a drain that read the row before this write keeps it.
    RollupPending.objects.bulk_create(
        [RollupPending(trace_id=pk, created_at=now) for pk in sorted(pks)],
        update_conflicts=True,
        unique_fields=["trace"],
        update_fields=["created_at"],
    )


def on_judge_scored(trace_pk: int) -> None:
    rollup_pending_add(trace_pks=[trace_pk])


def on_feedback(trace_pk: int, kind: str) -> None:
    rollup_pending_add(trace_pks=[trace_pk])


def on_signals(trace_pks: list[int]) -> None:
    from signals.models import Signal

    completed = set(
        Signal.objects.filter(trace_id__in=trace_pks, kind="task_completed").values_list("trace_id", flat=True)
    )
    rollup_pending_add(trace_pks=[pk for pk in trace_pks if pk not in completed])
    if completed:
        rollup_pending_add(trace_pks=list(completed), sessions=True)


def rollup_pending_drain(*, limit: int = 2000, batch: int = PENDING_BATCH) -> int:
    """Recompute the queued traces' contributions in batches; a row queued again meanwhile stays queued."""
    rows = list(RollupPending.objects.order_by("created_at").values_list("trace_id", "created_at")[:limit])
    done = 0
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        pks = [pk for pk, _ in chunk]
        completed = list(Trace.objects.filter(pk__in=pks, completed_at__isnull=False).values_list("pk", flat=True))
        done += traces_rollup(completed)
        # An open trace is left to the pipeline, which runs the stage when it completes.
        read_at = max(at for _, at in chunk)
        RollupPending.objects.filter(trace_id__in=pks, created_at__lte=read_at).delete()
    return done


# ---------------------------------------------------------------- deploys and retention


def deploy_record(
    *,
    project: Project,
    version: str,
    environment: str = "",
    description: str = "",
    commit: str = "",
    at: datetime | None = None,
) -> tuple[Deploy, bool]:
    """Record a deploy (idempotent on version + environment: a second post updates it). Returns (deploy,
    created)."""
    version, environment = (version or "").strip(), (environment or "").strip()
    if not version:
        raise Invalid("version is required: the service.version the deploy ships, e.g. 2.4.1")
    if len(version) > 100 or len(environment) > 100:
        raise Invalid("version and environment are at most 100 characters")
    if len(commit or "") > 64:
        raise Invalid("commit is at most 64 characters (a git SHA)")
    if len(description or "") > 5000:
        raise Invalid("description is at most 5,000 characters")
    at = at or timezone.now()
    if at > timezone.now() + timedelta(days=1):
        raise Invalid("time is more than a day in the future")
    deploy, created = Deploy.objects.update_or_create(
        project=project,
        version=version,
        environment=environment,
        defaults={"description": description or "", "commit": commit or "", "at": at, "source": Deploy.Source.API},
    )
    return deploy, created


def rollups_purge(*, now: datetime | None = None, days: int = RETENTION_DAYS) -> int:
    """Delete rollups, user costs and trace contributions older than the retention (12 months)."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = Rollup.objects.filter(hour__lt=cutoff).delete()[0]
    deleted += UserCost.objects.filter(hour__lt=cutoff).delete()[0]
    deleted += TraceContribution.objects.filter(hour__lt=cutoff).delete()[0]
    return deleted
