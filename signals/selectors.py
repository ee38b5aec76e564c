"""Reads of signals used by several callers: kinds per trace, completed sessions, lists and counts, intents."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from signals.models import Signal, SignalKind


def signals_for_traces(trace_pks) -> dict[int, set[str]]:
    """trace pk -> the kinds of its signals (traces without any left out)."""
    out: dict[int, set[str]] = {}
    for trace_pk, kind in Signal.objects.filter(trace_id__in=list(trace_pks)).values_list("trace_id", "kind"):
        out.setdefault(trace_pk, set()).add(kind)
    return out


def sessions_completed(project, session_ids) -> set[str]:
    """The sessions among these with a task_completed signal."""
    return set(
        Signal.objects.filter(
            project_id=project.pk, session_id__in=[s for s in session_ids if s], kind=SignalKind.TASK_COMPLETED
        ).values_list("session_id", flat=True)
    )


def sessions_completed_many(pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """(project pk, session id) pairs with a task_completed signal, across projects, in one query."""
    pairs = [p for p in pairs if p[1]]
    if not pairs:
        return set()
    rows = Signal.objects.filter(
        project_id__in={p for p, _ in pairs},
        session_id__in={s for _, s in pairs},
        kind=SignalKind.TASK_COMPLETED,
    ).values_list("project_id", "session_id")
    return set(rows) & set(pairs)


def signals_filter(
    *,
    project,
    kind: str = "",
    trace_id: str = "",
    session_id: str = "",
    user_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
):
    """The project's signals matching every given filter, newest first (a queryset)."""
    qs = Signal.objects.filter(project_id=project.pk)
    if kind:
        qs = qs.filter(kind=kind)
    if trace_id:
        qs = qs.filter(trace__trace_id=trace_id, trace__project_id=project.pk)
    if session_id or user_id:
        from traces.privacy import stored_ids  # ids may be stored hashed: a raw id is hashed to match

        if session_id:
            qs = qs.filter(session_id__in=stored_ids(project=project, what="session", value=session_id))
        if user_id:
            qs = qs.filter(user_id__in=stored_ids(project=project, what="user", value=user_id))
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")


def counts_by_kind(qs) -> dict[str, int]:
    counts = dict.fromkeys(SignalKind.values, 0)
    for row in qs.order_by().values("kind").annotate(n=Count("id")):
        counts[row["kind"]] = row["n"]
    return counts


def trace_pks_with_kind(*, project, kind: str):
    """A subquery of the project's trace pks with a signal of this kind (the trace list's filter)."""
    return Signal.objects.filter(project_id=project.pk, kind=kind).values("trace_id")


MIN_SESSIONS = 20  # an intent needs this many sessions before its abandonment rate is compared
MIN_RATIO = 2.0  # and a rate at least this many times the others'
MIN_GAP = 0.10  # and at least 10 points above it


def abandonment_by_intent(*, project, since: datetime) -> list[dict]:
    """Intents (root span name of the session's last trace) after which sessions are abandoned clearly more
    often than after the others: {intent, sessions, abandoned, rate, other_rate}, worst first. Two queries."""
    from traces.models import Trace

    rows = (
        Trace.objects.filter(project_id=project.pk, start_time__gte=since, is_internal=False)
        .exclude(session_id="")
        .values("session_id", "name", "start_time")
        .order_by("session_id", "start_time")
    )
    last: dict[str, str] = {}
    for row in rows.iterator():
        last[row["session_id"]] = row["name"]  # ordered by time: the last one wins
    if not last:
        return []
    abandoned = set(
        Signal.objects.filter(project_id=project.pk, kind=SignalKind.ABANDONMENT, created_at__gte=since)
        .exclude(session_id="")
        .values_list("session_id", flat=True)
    )
    per: dict[str, list[int]] = {}
    for session_id, intent in last.items():
        n = per.setdefault(intent, [0, 0])
        n[0] += 1
        n[1] += session_id in abandoned
    total, total_ab = len(last), len(abandoned & set(last))
    out = []
    for intent, (n, ab) in per.items():
        others, others_ab = total - n, total_ab - ab
        if n < MIN_SESSIONS or others < MIN_SESSIONS:
            continue
        rate, other_rate = ab / n, others_ab / others
        if rate >= MIN_GAP + other_rate and rate >= MIN_RATIO * other_rate:
            out.append({"intent": intent, "sessions": n, "abandoned": ab, "rate": rate, "other_rate": other_rate})
    return sorted(out, key=lambda r: -r["rate"])
