"""Writes for insights: detection on a completed trace, the full rebuild, an insight's status.

One trace's way through (see docs/architecture.md, "Insights"):

    traces.pipeline_run (a batch of completed traces) -> stage "detect": traces_detect -> trace_detect(trace_pk)
        ONE .values() query for the trace's spans -> span_view_from_row -> detect_all (pure, no database)
        -> merge the findings of one signature -> compare their digests with what the trace already has (one
        query): unchanged -> nothing written (a re-run is a no-op);
        else ONE transaction: lock the trace row (runs of one trace queue here), lock its insights in signature
        order (created when new), upsert the findings on (trace, signature), delete the ones gone, and move each
        insight's counters by the difference between the trace's old and new finding (one executemany UPDATE).

Counters are deltas, never recounts, so a trace costs the same however big an insight grows; re-running a trace
(or running it twice at once) moves them by zero. first_seen/last_seen only widen: a finding that disappears
on a re-run leaves them as they were (``insights_rebuild`` recomputes everything).

A fixed insight seen in a trace that started after ``fixed_at`` becomes ``regressed``; a dismissed one stays
dismissed (its counters still move).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from insights.detectors import Finding as Detected
from insights.detectors import detect_all, normalise_operation, span_view_from_row
from insights.detectors.types import SpanView
from insights.models import Finding, Insight
from traces.models import Project, Span, Trace
from traces.services import pg_copy_upsert

log = logging.getLogger(__name__)

# What the detectors read of a span (SpanView's fields), plus what storing the findings needs.
SPAN_FIELDS = (
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "model",
    "provider",
    "start_time",
    "end_time",
    "duration_ms",
    "status",
    "error",
    "input_text",
    "output_text",
    "input_messages",
    "tool_name",
    "tool_arguments",
    "tool_result",
    "input_tokens",
    "output_tokens",
    "cost",
    "service_name",
    "attributes",
    "is_internal",
    "project_id",
)
# The resource attribute saying which language the app is written in: which fix snippets apply. Read on its own
# (the rest of the resource is of no use to the detectors).
LANGUAGE_KEY = "telemetry.sdk.language"
SPAN_ANNOTATIONS = {"language": KeyTextTransform(LANGUAGE_KEY, "resource")}
# Finding columns a re-run rewrites; a row whose values all match is left alone.
FINDING_FIELDS = (
    "detector",
    "severity",
    "title",
    "message",
    "span_ids",
    "operation",
    "parent_operation",
    "service",
    "endpoint",
    "saving_ms",
    "saving_usd",
    "fix",
    "details",
    "seen_at",
    "digest",
)
INSIGHT_COUNTERS = (
    "count",
    "first_seen",
    "last_seen",
    "total_saving_ms",
    "total_saving_usd",
    "endpoints",
    "examples",
    "severity",
    "title",
    "message",
    "fix",
    "status",
    "regressed_at",
    "status_changed_at",
)
SETTABLE_STATUSES = (Insight.Status.OPEN, Insight.Status.DISMISSED, Insight.Status.FIXED)


class StatusInvalid(ValueError):
    pass


# --- Pure parts: rows -> span views -> merged findings -> column values ---------------------------------------------


def span_views(rows: Iterable[dict]) -> list[SpanView]:
    """SpanViews from span rows; the app's language (a resource attribute) is copied onto the span's attributes,
    where the detectors look for it."""
    views = []
    for row in rows:
        language = row.get("language")
        attributes = row.get("attributes") or {}
        if language and LANGUAGE_KEY not in attributes:
            row = {**row, "attributes": {**attributes, LANGUAGE_KEY: language}}
        views.append(span_view_from_row(row))
    return views


def trace_endpoint(rows: list[dict]) -> str:
    """The operation of the trace's root span (the request it served): the earliest span without a parent, else
    the earliest whose parent never arrived."""
    if not rows:
        return ""
    ids = {r["span_id"] for r in rows}
    orphans = [r for r in rows if not r["parent_span_id"] or r["parent_span_id"] not in ids]
    roots = [r for r in orphans if not r["parent_span_id"]] or orphans or rows
    root = min(roots, key=lambda r: (r["start_time"], r["span_id"]))
    return normalise_operation(
        root["name"] or "",
        kind=root["kind"] or "",
        model=root["model"] or "",
        provider=root["provider"] or "",
        tool_name=root["tool_name"] or "",
    )


def merge_by_signature(findings: Iterable[Detected]) -> list[Detected]:
    """One finding per signature, as (trace, signature) is unique.

    The first of a signature (detect_all sorts the most severe, largest saving first) leads: its title, fix and
    details stay; the others add their spans and savings (distinct spans, so the savings add up), their message
    after its own, and their details under ``details["merged"]``.
    """
    merged: dict[str, Detected] = {}
    for f in findings:
        lead = merged.get(f.signature)
        if lead is None:
            merged[f.signature] = replace(f, span_ids=list(f.span_ids), details=dict(f.details))
            continue
        lead.span_ids.extend(s for s in f.span_ids if s not in lead.span_ids)
        lead.saving_ms += f.saving_ms
        lead.saving_usd += f.saving_usd
        lead.message = f"{lead.message}\n\n{f.message}"
        lead.details.setdefault("merged", []).append(
            {
                "severity": f.severity,
                "span_ids": list(f.span_ids),
                "saving_ms": f.saving_ms,
                "saving_usd": f.saving_usd,
                "details": f.details,
            }
        )
    return list(merged.values())


def _json(value: Any) -> Any:
    """Plain JSON types (tuples as lists, anything odd as a string): what the JSON column stores."""
    return json.loads(json.dumps(value, default=str))


def finding_values(f: Detected, *, seen_at: datetime, endpoint: str) -> dict[str, Any]:
    values = {
        "signature": f.signature,
        "detector": f.detector,
        "severity": f.severity,
        "title": f.title[:500],
        "message": f.message,
        "span_ids": list(f.span_ids),
        "operation": f.operation[:500],
        "parent_operation": f.parent_operation[:500],
        "service": f.service[:200],
        "endpoint": endpoint[:500],
        "saving_ms": float(f.saving_ms),
        "saving_usd": float(f.saving_usd),
        "fix": {"summary": f.fix.summary, "snippets": [dict(sn) for sn in f.fix.snippets]} if f.fix else {},
        "details": _json(f.details),
        "seen_at": seen_at,
    }
    payload = json.dumps([values[name] for name in FINDING_FIELDS if name != "digest"], default=str, sort_keys=True)
    values["digest"] = hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()
    return values


def detect_rows(rows: list[dict]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One trace's span rows -> (finding column values, trace facts). No database."""
    if not rows or all(r["is_internal"] for r in rows):  # Peekr's own judge traces are not the user's app
        return [], {}
    facts = {
        "project_id": rows[0]["project_id"],
        "seen_at": min(r["start_time"] for r in rows),
        "endpoint": trace_endpoint(rows),
    }
    found = merge_by_signature(detect_all(span_views(rows)))
    return [finding_values(f, seen_at=facts["seen_at"], endpoint=facts["endpoint"]) for f in found], facts


# --- One trace ---------------------------------------------------------------------------------------------------


def load_span_rows(*, trace_pk: int) -> list[dict]:
    return list(Span.objects.filter(trace_id=trace_pk).values(*SPAN_FIELDS, **SPAN_ANNOTATIONS))


EXISTING_FIELDS = ("pk", "signature", "insight_id", "project_id", "saving_ms", "saving_usd", "digest")


def _unchanged(existing: Mapping[str, dict], new: Mapping[str, dict]) -> bool:
    return existing.keys() == new.keys() and all(existing[sig]["digest"] == v["digest"] for sig, v in new.items())


def trace_detect(*, trace_pk: int) -> int:
    """Run every detector on a trace and store its findings; returns how many the trace has. Idempotent."""
    return traces_detect([trace_pk])


def traces_detect(trace_pks: list[int]) -> int:
    """The pipeline's detection stage, for a batch: the spans of every trace in ONE query and their stored
    findings in another; the detectors run in memory, and only a trace whose findings changed is written
    (most traces have none, before and after). Returns the findings the traces have."""
    rows_of: dict[int, list[dict]] = {pk: [] for pk in trace_pks}
    for row in Span.objects.filter(trace_id__in=trace_pks).values("trace_id", *SPAN_FIELDS, **SPAN_ANNOTATIONS):
        rows_of[row.pop("trace_id")].append(row)
    existing_of: dict[int, dict[str, dict]] = {pk: {} for pk in trace_pks}
    for row in Finding.objects.filter(trace_id__in=trace_pks).values("trace_id", *EXISTING_FIELDS):
        existing_of[row.pop("trace_id")][row["signature"]] = row
    total, changed = 0, []
    for pk in trace_pks:
        found, facts = detect_rows(rows_of[pk])
        new = {v["signature"]: v for v in found}
        total += len(new)
        if not _unchanged(existing_of[pk], new):
            changed.append((pk, new, facts))
    if changed:
        _findings_store(changed)
    return total


def _findings_store(changed: list[tuple[int, dict[str, dict], dict[str, Any]]]) -> None:
    """Write the changed findings of a batch's traces and move their insights' counters by the difference, in ONE
    transaction: the traces' rows locked in pk order (runs of one trace queue there, so each computes its deltas
    from what the previous one stored), their findings re-read under that lock, each project's insights locked
    once in signature order, then one upsert, one delete and one counters update for the whole batch. (Per
    trace, two workers took turns on the same hot insight rows for every trace.)"""
    with transaction.atomic():
        pks = sorted(pk for pk, _, _ in changed)
        trace_ids = dict(
            Trace.objects.select_for_update().filter(pk__in=pks).order_by("pk").values_list("pk", "trace_id")
        )
        existing_of: dict[int, dict[str, dict]] = {pk: {} for pk in pks}
        for row in Finding.objects.filter(trace_id__in=pks).values("trace_id", *EXISTING_FIELDS):
            existing_of[row.pop("trace_id")][row["signature"]] = row
        by_project: dict[int, list] = {}
        for pk, new, facts in changed:
            existing = existing_of[pk]
            if pk not in trace_ids or _unchanged(existing, new):  # deleted, or another run got there first
                continue
            # Findings to write come with their project; findings to remove carry theirs.
            project_id = facts.get("project_id") or next(iter(existing.values()))["project_id"]
            by_project.setdefault(project_id, []).append((pk, new, existing))
        rows, gone, touched = [], [], []
        now = timezone.now()
        for project_id, items in sorted(by_project.items()):
            wanted = {sig: values for _, new, _ in items for sig, values in new.items()}
            signatures = sorted(wanted.keys() | {sig for _, _, existing in items for sig in existing})
            insights = _insights_locked(project_id, signatures, wanted)
            for pk, new, existing in items:
                _move_counters(insights, trace_ids[pk], existing, new, now)
                rows += [
                    {"project_id": project_id, "trace_id": pk, "insight_id": insights[sig].pk, **values}
                    for sig, values in new.items()
                ]
                gone += [old["pk"] for sig, old in existing.items() if sig not in new]
            touched += insights.values()
        findings_upsert(rows)
        if gone:
            Finding.objects.filter(pk__in=gone).delete()
        insights_save_counters(touched)


def _move_counters(insights: dict[str, Insight], trace_id: str, existing: dict, new: dict, now: datetime) -> None:
    """One trace's findings went from ``existing`` to ``new``: move its insights' counters by the difference."""
    for sig in existing.keys() | new.keys():
        insight, old, cur = insights[sig], existing.get(sig), new.get(sig)
        if old is not None:
            insight.count -= 1
            insight.total_saving_ms -= old["saving_ms"]
            insight.total_saving_usd -= old["saving_usd"]
            insight.examples = [e for e in insight.examples if e["trace_id"] != trace_id]
        if cur is not None:
            insight.count += 1
            insight.total_saving_ms += cur["saving_ms"]
            insight.total_saving_usd += cur["saving_usd"]
            _seen(insight, cur, now)
            insight.examples = with_example(insight.examples, trace_id, cur)


def _insights_locked(project_id: int, signatures: list[str], new: Mapping[str, dict]) -> dict[str, Insight]:
    """The insights of these signatures, locked in signature order; those seen for the first time are created.

    Two traces creating the same new insight at once: the second insert is ignored, and its run locks the row the
    first created. (Rarely two runs lock the same insights in opposite orders through such a creation; PostgreSQL
    then aborts one with a deadlock error and the task retries it.)
    """
    locked = Insight.objects.select_for_update().filter(project_id=project_id).order_by("signature")
    found = {i.signature: i for i in locked.filter(signature__in=signatures)}
    missing = [sig for sig in signatures if sig not in found]
    if missing:
        Insight.objects.bulk_create([_new_insight(project_id, new[sig]) for sig in missing], ignore_conflicts=True)
        found.update({i.signature: i for i in locked.filter(signature__in=missing)})
    return found


def _new_insight(project_id: int, values: Mapping[str, Any]) -> Insight:
    return Insight(
        project_id=project_id,
        signature=values["signature"],
        detector=values["detector"],
        operation=values["operation"],
        parent_operation=values["parent_operation"],
        service=values["service"],
        severity=values["severity"],
        title=values["title"],
        message=values["message"],
        fix=values["fix"],
    )


def _seen(insight: Insight, values: Mapping[str, Any], now: datetime) -> None:
    """A trace with this insight's finding: widen first/last seen, keep the latest wording, note the endpoint,
    and flag a fixed insight that came back."""
    seen = values["seen_at"]
    if insight.first_seen is None or seen < insight.first_seen:
        insight.first_seen = seen
    if insight.last_seen is None or seen >= insight.last_seen:
        insight.last_seen = seen
        insight.severity, insight.title = values["severity"], values["title"]
        insight.message, insight.fix = values["message"], values["fix"]
    endpoint = values["endpoint"]
    if endpoint and endpoint not in insight.endpoints and len(insight.endpoints) < Insight.MAX_ENDPOINTS:
        insight.endpoints = [*insight.endpoints, endpoint]
    if insight.status == Insight.Status.FIXED and insight.fixed_at is not None and seen > insight.fixed_at:
        insight.status = Insight.Status.REGRESSED
        insight.regressed_at = insight.status_changed_at = now


def insights_save_counters(insights: list[Insight]) -> None:
    """Write the insights' counters and latest wording: one executemany UPDATE. (Django's bulk_update builds a
    CASE WHEN per field and row, which took most of a trace's detection time.)"""
    if not insights:
        return
    fields = [Insight._meta.get_field(name) for name in INSIGHT_COUNTERS]
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    params = [[f.get_db_prep_save(getattr(i, f.attname), connection) for f in fields] + [i.pk] for i in insights]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {connection.ops.quote_name(Insight._meta.db_table)} SET {sets} WHERE id = %s", params
        )


def with_example(examples: list[dict], trace_id: str, values: Mapping[str, Any]) -> list[dict]:
    """The newest Insight.MAX_EXAMPLES traces, this one included if it is among them."""
    example = {
        "trace_id": trace_id,
        "seen_at": values["seen_at"].isoformat(),
        "saving_ms": values["saving_ms"],
        "saving_usd": values["saving_usd"],
    }
    kept = [e for e in examples if e["trace_id"] != trace_id] + [example]
    kept.sort(key=lambda e: datetime.fromisoformat(e["seen_at"]), reverse=True)
    return kept[: Insight.MAX_EXAMPLES]


# --- The full rebuild ----------------------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    traces: int = 0
    spans: int = 0
    findings: int = 0
    insights: int = 0
    seconds: float = 0.0
    read_seconds: float = 0.0  # of which reading spans (the queries, JSON decoding)
    detect_seconds: float = 0.0  # building span views and running the detectors (pure Python)
    write_seconds: float = 0.0  # creating insights, writing findings, the final recount


def insights_rebuild(
    *, project: Project, batch_size: int = 500, progress: Callable[[RebuildResult], None] | None = None
) -> RebuildResult:
    """Detection over every completed trace of the project, from scratch.

    Findings are deleted and detected again: traces in pk order, the spans of ``batch_size`` traces per query,
    their findings written in bulk (an upsert, so a trace_detect running meanwhile cannot make it fail). Then
    every insight's counters are recounted from the findings in one grouped query. Status, fixed_at and
    dismissals are kept; a fixed insight last seen after fixed_at becomes regressed.
    """
    started = time.monotonic()
    result = RebuildResult()
    Finding.objects.filter(project=project).delete()
    insights = {i.signature: i for i in Insight.objects.filter(project=project)}
    latest: dict[str, dict] = {}  # signature -> the latest finding's values (its wording goes on the insight)
    examples: dict[str, list[dict]] = {}  # signature -> its newest traces
    traces = Trace.objects.filter(project=project, completed_at__isnull=False, is_internal=False).order_by("pk")
    last_pk = 0
    while True:
        trace_ids = dict(traces.filter(pk__gt=last_pk).values_list("pk", "trace_id")[:batch_size])
        if not trace_ids:
            break
        pks = list(trace_ids)
        last_pk = pks[-1]
        read_started = time.monotonic()
        rows = list(
            Span.objects.filter(trace_id__in=pks)
            .order_by("trace_id", "start_time")
            .values("trace_id", *SPAN_FIELDS, **SPAN_ANNOTATIONS)
        )
        detect_started = time.monotonic()
        result.read_seconds += detect_started - read_started
        batch: list[tuple[int, dict]] = []
        for trace_pk, trace_rows in groupby(rows, key=lambda r: r["trace_id"]):
            trace_rows = list(trace_rows)
            result.spans += len(trace_rows)
            found, _ = detect_rows(trace_rows)
            for values in found:
                batch.append((trace_pk, values))
                sig = values["signature"]
                if sig not in latest or values["seen_at"] >= latest[sig]["seen_at"]:
                    latest[sig] = values
                shown = examples.get(sig, [])
                if len(shown) < Insight.MAX_EXAMPLES or values["seen_at"].isoformat() > shown[-1]["seen_at"]:
                    examples[sig] = with_example(shown, trace_ids[trace_pk], values)
        write_started = time.monotonic()
        result.detect_seconds += write_started - detect_started
        result.traces += len(pks)
        new = [_new_insight(project.pk, latest[sig]) for sig in {v["signature"] for _, v in batch} - insights.keys()]
        if new:
            Insight.objects.bulk_create(new, ignore_conflicts=True)
            created = Insight.objects.filter(project=project, signature__in=[i.signature for i in new])
            insights.update({i.signature: i for i in created})
        findings_upsert(
            [
                {"project_id": project.pk, "trace_id": trace_pk, "insight_id": insights[v["signature"]].pk, **v}
                for trace_pk, v in batch
            ]
        )
        result.findings += len(batch)
        result.write_seconds += time.monotonic() - write_started
        if progress:
            result.seconds = time.monotonic() - started
            progress(result)

    write_started = time.monotonic()
    _recount(project, insights, latest, examples)
    result.write_seconds += time.monotonic() - write_started
    result.insights = sum(1 for i in insights.values() if i.count)
    result.seconds = time.monotonic() - started
    return result


COPY_FROM_ROWS = 200  # findings written at once from which COPY beats a multi-row statement (PostgreSQL)


def findings_upsert(rows: list[dict]) -> None:
    """Insert or update findings on (trace, signature), in bulk: one trace's few, or the rebuild's thousands.

    Raw SQL, not bulk_create: Django spent more time building the statement (a parameter per value, kilobytes of
    fix snippets each) than the database spent running it. A few rows: one INSERT ... ON CONFLICT, run for all of
    them with executemany. Many, on PostgreSQL: traces.services.pg_copy_upsert (COPY, then one INSERT ... ON CONFLICT).
    """
    if not rows:
        return
    rows = [{"created_at": timezone.now(), **r} for r in rows]
    update = ("insight", *FINDING_FIELDS)
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM_ROWS:
        pg_copy_upsert(Finding, rows, temp_table="_finding_in", conflict=("trace_id", "signature"), update=update)
        return
    fields = [f for f in Finding._meta.concrete_fields if f.name != "id"]
    quote = connection.ops.quote_name
    cols = ", ".join(quote(f.column) for f in fields)
    updates = ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in fields if f.name in update)
    table = quote(Finding._meta.db_table)
    conflict = f"ON CONFLICT ({quote('trace_id')}, {quote('signature')}) DO UPDATE SET {updates}"
    params = [[f.get_db_prep_save(r[f.attname], connection) for f in fields] for r in rows]
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({placeholders}) {conflict}", params)


def _recount(
    project: Project, insights: dict[str, Insight], latest: Mapping[str, dict], examples: Mapping[str, list[dict]]
) -> None:
    totals = {
        row["insight_id"]: row
        for row in Finding.objects.filter(project=project)
        .values("insight_id")
        .annotate(n=Count("id"), ms=Sum("saving_ms"), usd=Sum("saving_usd"), first=Min("seen_at"), last=Max("seen_at"))
        .order_by()
    }
    endpoints: dict[int, list[str]] = {}
    for insight_id, endpoint in (
        Finding.objects.filter(project=project).exclude(endpoint="").values_list("insight_id", "endpoint").distinct()
    ):
        endpoints.setdefault(insight_id, []).append(endpoint)
    now = timezone.now()
    for sig, insight in insights.items():
        row = totals.get(insight.pk) or {"n": 0, "ms": 0.0, "usd": 0.0, "first": None, "last": None}
        insight.count = row["n"]
        insight.total_saving_ms = row["ms"] or 0.0
        insight.total_saving_usd = row["usd"] or 0.0
        insight.first_seen, insight.last_seen = row["first"], row["last"]
        insight.endpoints = sorted(endpoints.get(insight.pk, []))[: Insight.MAX_ENDPOINTS]
        insight.examples = examples.get(sig, [])
        if sig in latest:
            values = latest[sig]
            insight.severity, insight.title = values["severity"], values["title"]
            insight.message, insight.fix = values["message"], values["fix"]
        if (
            insight.status == Insight.Status.FIXED
            and insight.fixed_at is not None
            and insight.last_seen is not None
            and insight.last_seen > insight.fixed_at
        ):
            insight.status = Insight.Status.REGRESSED
            insight.regressed_at = insight.status_changed_at = now
    insights_save_counters(list(insights.values()))


# --- Status ------------------------------------------------------------------------------------------------------


def insight_set_status(*, insight: Insight, status: str, now: datetime | None = None) -> Insight:
    """Open, dismiss or mark fixed. Marking fixed (again) starts the regression watch from now; reopening ends it."""
    if status not in SETTABLE_STATUSES:
        raise StatusInvalid(f"status must be one of {', '.join(SETTABLE_STATUSES)}; got {status!r}")
    now = now or timezone.now()
    with transaction.atomic():
        insight = Insight.objects.select_for_update().get(pk=insight.pk)
        if insight.status == status:
            return insight
        insight.status = status
        insight.status_changed_at = now
        if status == Insight.Status.FIXED:
            insight.fixed_at, insight.regressed_at = now, None
        elif status == Insight.Status.OPEN:
            insight.fixed_at, insight.regressed_at = None, None
        insight.save(update_fields=["status", "status_changed_at", "fixed_at", "regressed_at"])
    return insight
