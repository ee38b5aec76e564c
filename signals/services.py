"""Writes of signals: explicit feedback (API and spans), derived signals (the pipeline stage and the beat sweep).

Every signal is written once: its key (unique with the project) is the fact's identity ("feedback:<pk>",
"span:<span_id>:attributes", "rephrase:<trace_id>", "abandonment:<trace_id>", "escalation:<span_id>"), so a
stage run twice, a sweep racing the stage or a replayed hook leave the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from signals import derive
from signals.derive import Found, Turn
from signals.models import RoutingPolicy, Signal, SignalKind, SignalSource
from signals.routing import policies_for, signals_apply
from traces.models import Span, Trace

log = logging.getLogger(__name__)

# callables(trace_pks) run after commit with traces that gained signals outside the pipeline (metrics recomputes them)
SIGNAL_HOOKS: list[Callable[[list[int]], None]] = []
SWEEP_LOOKBACK = timedelta(hours=24)  # abandonment looks this far back for sessions that went quiet
SWEEP_BATCH = 500
DEFAULT_QUIET = RoutingPolicy._meta.get_field("abandonment_quiet_seconds").default
_TRACE_FIELDS = ("pk", "project_id", "trace_id", "session_id", "user_id", "start_time", "end_time",
                 "input_preview", "output_preview")  # fmt: skip


def signals_store(found: list[tuple[dict, Found, str]], *, in_pipeline: set[int] = frozenset()) -> list[Signal]:
    """Write (trace row, found, source) as Signal rows; the new ones are routed by the policy and announced to
    SIGNAL_HOOKS after commit. Keys already stored are left alone. Returns the new rows."""
    if not found:
        return []
    rows = {}
    for trace, f, source in found:
        rows[(trace["project_id"], f.key)] = Signal(
            project_id=trace["project_id"],
            trace_id=f.trace_pk,
            kind=f.kind,
            value=f.value,
            source=source,
            session_id=trace["session_id"],
            user_id=trace["user_id"],
            evidence=f.evidence,
            key=f.key[:255],
            created_at=f.at or timezone.now(),
        )
    projects = {p for p, _ in rows}
    keys = {k for _, k in rows}
    seen = set(Signal.objects.filter(project_id__in=projects, key__in=keys).values_list("project_id", "key"))
    new = [s for pk, s in rows.items() if pk not in seen]
    if not new:
        return []
    with transaction.atomic():
        Signal.objects.bulk_create(new, ignore_conflicts=True)  # a concurrent writer of the same key: one row
        signals_apply(new, in_pipeline=set(in_pipeline))
    # Traces still in the pipeline get their rollup (and the rest) from its later stages; a task completed
    # also moves its session's other traces (metrics' cost per successful task), so it is always announced.
    trace_pks = sorted({s.trace_id for s in new if s.trace_id not in in_pipeline or s.kind == "task_completed"})
    if not trace_pks:
        return new
    for hook in SIGNAL_HOOKS:
        transaction.on_commit(lambda hook=hook: hook(trace_pks))
    return new


def _turn(row: dict) -> Turn:
    return Turn(
        pk=row["pk"],
        trace_id=row["trace_id"],
        start=row["start_time"],
        end=row["end_time"],
        input=row["input_preview"],
        output=row["output_preview"],
    )


# ---------------------------------------------------------------- explicit feedback


def on_feedback(trace_pk: int, kind: str) -> None:
    """evals.services.FEEDBACK_HOOKS: every feedback row of the trace becomes a signal (source "api")."""
    from evals.models import Feedback

    trace = Trace.objects.filter(pk=trace_pk).values(*_TRACE_FIELDS).first()
    if trace is None:
        return
    found = []
    for fb in Feedback.objects.filter(trace_id=trace_pk).order_by("pk"):
        if fb.kind not in SignalKind.values:  # "copy" is feedback, not a signal
            continue
        evidence = {"feedback_id": fb.pk}
        if fb.comment:
            evidence["comment"] = fb.comment[:500]
        if fb.user_id:
            evidence["feedback_user_id"] = fb.user_id
        found.append((trace, Found(trace_pk, fb.kind, f"feedback:{fb.pk}", fb.value, evidence, fb.created_at), "api"))
    signals_store(found)


def _span_feedback(trace: dict, span: dict, item: dict) -> Found | None:
    value = item["value"]
    if item["kind"] == "rating":
        value = derive.normalise_rating(value)
        if value is None:
            return None
    elif item["kind"] == "edit":
        if not item["edited_output"]:
            return None
        from evals.services import edit_distance

        value = edit_distance(span.get("output_text") or trace["output_preview"], item["edited_output"])
    else:
        value = None
    evidence = {"span_id": item["span_id"], "from": item["where"]}
    if item["comment"]:
        evidence["comment"] = item["comment"][:500]
    return Found(
        trace["pk"], item["kind"], f"span:{item['span_id']}:{item['where']}", value, evidence, span["start_time"]
    )


# ---------------------------------------------------------------- the pipeline stage


def traces_signal(trace_pks: list[int], *, now: datetime | None = None) -> int:
    """The pipeline's signals stage (before evaluation and routing, which read what it writes): feedback and
    escalation carried by the spans, rephrases within the batch's sessions and abandoned sessions whose quiet
    period is over. A fixed number of queries per batch. Returns the signals written."""
    now = now or timezone.now()
    traces = {r["pk"]: r for r in Trace.objects.filter(pk__in=trace_pks, is_internal=False).values(*_TRACE_FIELDS)}
    if not traces:
        return 0
    policies = policies_for({t["project_id"] for t in traces.values()})
    found: list[tuple[dict, Found, str]] = []
    span_rows = Span.objects.filter(trace_id__in=list(traces), is_internal=False).values(
        "trace_id", "span_id", "name", "tool_name", "attributes", "events", "output_text", "start_time"
    )
    for span in span_rows:
        trace = traces[span["trace_id"]]
        for item in derive.span_feedback(span):
            f = _span_feedback(trace, span, item)
            if f:
                found.append((trace, f, SignalSource.SPAN))
        hit = derive.escalation(span, policies[trace["project_id"]].escalation_patterns)
        if hit:
            f = Found(trace["pk"], "escalation", f"escalation:{span['span_id']}", None, hit, span["start_time"])
            found.append((trace, f, SignalSource.DERIVED))
    found += _session_signals(list(traces.values()), policies, now, found)
    return len(signals_store(found, in_pipeline=set(traces)))


def _session_signals(batch: list[dict], policies, now: datetime, pending: list) -> list[tuple[dict, Found, str]]:
    """Rephrases and abandonments in the sessions of these traces, reading each session's turns once."""
    in_session = [t for t in batch if t["session_id"]]
    if not in_session:
        return []
    widest = max(p.rephrase_window_seconds for p in policies.values())
    since = min(t["start_time"] for t in in_session) - timedelta(seconds=widest) - timedelta(hours=1)
    rows = Trace.objects.filter(
        project_id__in={t["project_id"] for t in in_session},
        session_id__in={t["session_id"] for t in in_session},
        start_time__gte=since,
        is_internal=False,
    ).values(*_TRACE_FIELDS)
    wanted = {(t["project_id"], t["session_id"]) for t in in_session}
    sessions: dict[tuple[int, str], list[dict]] = {}
    for row in rows:
        if (row["project_id"], row["session_id"]) in wanted:
            sessions.setdefault((row["project_id"], row["session_id"]), []).append(row)
    from signals.selectors import sessions_completed_many

    completed = sessions_completed_many(list(sessions))
    completed |= {(t["project_id"], t["session_id"]) for t, f, _ in pending if f.kind == "task_completed"}
    out = []
    for (project_id, session_id), members in sessions.items():
        by_pk = {m["pk"]: m for m in members}
        policy = policies[project_id]
        turns = [_turn(m) for m in members]
        for f in derive.rephrases(
            turns, window_seconds=policy.rephrase_window_seconds, threshold=policy.rephrase_threshold
        ):
            out.append((by_pk[f.trace_pk], f, SignalSource.DERIVED))
        f = derive.abandonment(
            turns,
            now=now,
            quiet_seconds=policy.abandonment_quiet_seconds,
            completed=(project_id, session_id) in completed,
        )
        if f:
            out.append((by_pk[f.trace_pk], f, SignalSource.DERIVED))
    return out


# ---------------------------------------------------------------- abandonment, once the quiet period is over


def abandonment_sweep(*, now: datetime | None = None) -> int:
    """Beat: sessions whose last trace (within the lookback) has been quiet for the project's quiet period,
    without a task completed, gain an abandonment signal. Bounded per tick; idempotent. Returns signals written."""
    now = now or timezone.now()
    later = Trace.objects.filter(
        project_id=OuterRef("project_id"), session_id=OuterRef("session_id"), start_time__gt=OuterRef("start_time")
    )
    marked = Signal.objects.filter(trace_id=OuterRef("pk"), kind=SignalKind.ABANDONMENT)
    done = Signal.objects.filter(
        project_id=OuterRef("project_id"), session_id=OuterRef("session_id"), kind=SignalKind.TASK_COMPLETED
    )
    stored = RoutingPolicy.objects.aggregate(q=Min("abandonment_quiet_seconds"))["q"]
    shortest = min(DEFAULT_QUIET, stored or DEFAULT_QUIET)  # each project's own is applied below
    rows = list(
        Trace.objects.filter(
            start_time__gte=now - SWEEP_LOOKBACK,
            start_time__lte=now - timedelta(seconds=shortest),
            completed_at__isnull=False,
            is_internal=False,
        )
        .exclude(session_id="")
        .exclude(output_preview="")
        .filter(~Exists(later), ~Exists(marked), ~Exists(done))
        .order_by("start_time")
        .values(*_TRACE_FIELDS)[:SWEEP_BATCH]
    )
    if not rows:
        return 0
    policies = policies_for({r["project_id"] for r in rows})
    from signals.selectors import sessions_completed_many

    completed = sessions_completed_many([(r["project_id"], r["session_id"]) for r in rows])
    found = []
    for row in rows:
        f = derive.abandonment(
            [_turn(row)],
            now=now,
            quiet_seconds=policies[row["project_id"]].abandonment_quiet_seconds,
            completed=(row["project_id"], row["session_id"]) in completed,
        )
        if f:
            found.append((row, f, SignalSource.DERIVED))
    return len(signals_store(found))
