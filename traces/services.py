"""Writes for traces: ingesting spans, trace aggregates, trace completion, projects and keys."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Substr
from django.utils import timezone

from traces import extensions, lean, privacy, trace_fields, write_queue
from traces.models import ApiKey, KeyScope, LogEvent, Membership, Project, Role, Span, Trace
from traces.normalize import apply_log_events, normalize
from traces.normalize.types import NormalizedSpan, RawSpan
from traces.redact import Redactor, redact_span
from traces.sanitize import column_float, column_int

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Traces whose root span never ends (a crashed process) are completed anyway after this long without spans.
ABANDONED_AFTER = timedelta(minutes=10)
TOKEN_KINDS = ("llm", "embedding")
# A span attribute by which a client says its trace is over, so evaluation need not wait for the quiet period.
END_MARKER = "peekr.trace.end"  # parents often repeat their children's usage: count it once, at the call


def ns_to_datetime(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1000)


def _clean(value: Any) -> Any:
    """Make an attribute value storable as JSON on SQLite and PostgreSQL (no bytes, no NUL characters)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):  # NaN and infinities are not JSON
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dump_json(value: Any) -> str:
    """JSON text PostgreSQL's jsonb accepts. The common case is one orjson call (several times faster than the
    json module's C encoder; it writes NaN and infinities as null, as _clean does); a value holding a NUL
    character, or one orjson refuses (an integer past 64 bits, a lone surrogate), takes the slow walk through
    _clean and the json module."""
    if not value:
        return "[]" if isinstance(value, list) else "{}" if isinstance(value, dict) else json.dumps(value)
    try:
        text = orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return _dump_json_slow(value)
    if b"\\u0000" in text:
        return json.dumps(_clean(value), ensure_ascii=False)
    return text.decode()


def _dump_json_slow(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_json_default)
    except ValueError:
        return json.dumps(_clean(value), ensure_ascii=False)
    return json.dumps(_clean(value), ensure_ascii=False) if "\\u0000" in text else text


def _text(value: str, limit: int | None = None) -> str:
    value = value.replace("\x00", "\ufffd") if "\x00" in value else value
    return value[:limit] if limit else value


@dataclass
class Rejected:
    index: int
    span_id: str
    reason: str


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    trace_pks: list[int] = field(default_factory=list)


def _span_values(project: Project, raw: RawSpan, norm: NormalizedSpan) -> dict:
    start = ns_to_datetime(raw.start_ns)
    end = ns_to_datetime(raw.end_ns) if raw.end_ns is not None else None
    values = dict(
        project_id=project.pk,
        lean=None,
        span_id=raw.span_id,
        parent_span_id=raw.parent_span_id or "",
        name=_text(raw.name, 500),
        kind=norm.kind,
        otel_kind=raw.kind,
        provider=_text(norm.provider, 100),
        model=_text(norm.model, 200),
        start_time=start,
        end_time=end,
        duration_ms=(raw.end_ns - raw.start_ns) / 1e6 if raw.end_ns is not None else None,
        status=norm.status,
        error=_text(norm.error),
        input_text=_text(norm.input_text),
        output_text=_text(norm.output_text),
        input_messages=norm.input_messages,
        output_messages=norm.output_messages,
        documents=norm.documents,
        tool_name=_text(norm.tool_name, 200),
        tool_arguments=_text(norm.tool_arguments),
        tool_result=_text(norm.tool_result),
        # Integer columns: a count past them is kept only in the attributes (traces.sanitize.column_int).
        input_tokens=column_int(norm.input_tokens),
        output_tokens=column_int(norm.output_tokens),
        total_tokens=column_int(norm.total_tokens),
        cost=column_float(norm.cost),
        ttft_ms=column_float(norm.ttft_ms),
        session_id=_text(norm.session_id, 200),
        user_id=_text(norm.user_id, 200),
        service_name=_text(norm.service_name, 200),
        release=_text(norm.release, 100),
        model_version=_text(norm.model_version, 200),
        prompt_version=_text(norm.prompt_version, 100),
        is_internal=norm.is_internal,
        traffic=norm.traffic,
        request_key=_text(norm.request_key, 200),
        source=raw.source,
        conventions=norm.conventions,
        sdk_scores=norm.sdk_scores,
        attributes=raw.attributes,
        events=raw.events,
        resource=raw.resource,
        scope=_text(raw.scope_name, 200),
    )
    if settings.PEEKR_LEAN_STORAGE:  # each piece of content once: what normalisation took leaves the attributes
        values["attributes"], values["events"], values["lean"] = lean.split(values)
    return values


TRACE_REOPEN_FIELDS = ["last_span_at", "completed_at", "stages_done", "processed_at", "pipeline_attempts"]


def traces_upsert(project: Project, first_start: dict[str, int], now: datetime) -> dict[str, int]:
    """Insert or reopen the batch's traces, in trace id order (their row locks serialise concurrent batches of one
    trace); returns their ids by trace id. A span arriving for a completed trace reopens it: it settles and goes
    through the pipeline again. On PostgreSQL through pg_copy_upsert (the ORM's bulk upsert built a model instance
    and adapted each value in Python: 4x the CPU); elsewhere the ORM's."""
    rows = [
        dict(
            project_id=project.pk,
            trace_id=tid,
            start_time=ns_to_datetime(first_start[tid]),
            last_span_at=now,
            completed_at=None,
            stages_done=0,
            processed_at=None,
            pipeline_attempts=0,
        )
        for tid in sorted(first_start)
    ]
    if connection.vendor == "postgresql":
        conflict = ("project_id", "trace_id")
        returned = pg_copy_upsert(
            Trace, rows, temp_table="_trace_in", conflict=conflict, update=TRACE_REOPEN_FIELDS, order_by="trace_id",
            returning='"trace_id", "id"',
        )  # fmt: skip
        return dict(returned)
    traces = [Trace(**row) for row in rows]
    Trace.objects.bulk_create(
        traces, update_conflicts=True, unique_fields=["project", "trace_id"], update_fields=TRACE_REOPEN_FIELDS
    )
    pk_by_tid = {t.trace_id: t.pk for t in traces}  # INSERT ... ON CONFLICT ... RETURNING, where the database can
    if None in pk_by_tid.values():
        pk_by_tid = dict(
            Trace.objects.filter(project=project, trace_id__in=list(first_start)).values_list("trace_id", "id")
        )
    return pk_by_tid


def spans_upsert(project: Project, rows: list[dict]) -> list[int]:
    """Insert or update span rows on (project, span_id, start_time); rows are sorted by span id (lock order). A
    stored span re-sent with another start time stays one row (SQLite: _traces_left_behind moves it first;
    PostgreSQL: traces_refresh merges the two rows, see _span_copies_merge). Returns the
    traces that re-sent span ids moved out of (a span id sent again under another trace id).

    On PostgreSQL, a batch of new spans (the usual case) is COPYed straight into the table (pg_copy_new); one
    holding a span already stored (a retry, an open span ending) goes through pg_copy_upsert (COPY into a
    temporary table, then one INSERT ... ON CONFLICT), which costs PostgreSQL ~20 % more. The ORM's bulk upsert took
    most of an ingest request's time. The upsert itself reports the moves (``moved_from``, set from the old row
    in DO UPDATE and returned): a separate look-up by span id was planned on the (project, model) index once
    the table's statistics lagged behind ingest, and cost 0.7 s a request at 400,000 spans. Elsewhere (SQLite,
    the laptop default) the ORM's bulk upsert is plenty, after a look-up on the unique index.
    """
    if connection.vendor != "postgresql":
        left = _traces_left_behind(project, rows)
        write_queue.sqlite_upsert(  # one executemany: the ORM's bulk_create was most of the write turn
            Span, rows, conflict=("project_id", "span_id", "start_time"), update=SPAN_UPDATE_FIELDS, dump=dump_json
        )
        return left
    if pg_copy_new(Span, rows):
        return []  # no span of the batch was stored: nothing updated, nothing moved
    table = connection.ops.quote_name(Span._meta.db_table)
    moved = pg_copy_upsert(
        Span,
        rows,
        temp_table="_span_in",
        conflict=("project_id", "span_id", "start_time"),
        update=SPAN_UPDATE_FIELDS,
        order_by="span_id",
        extra_set=f'"moved_from" = CASE WHEN {table}."trace_id" <> EXCLUDED."trace_id" THEN {table}."trace_id" END',
        returning='"moved_from"',
    )
    return sorted({row[0] for row in moved if row[0] is not None})


def pg_copy_new(model: type[models.Model], rows: list[dict]) -> bool:
    """PostgreSQL: COPY ``rows`` (as for pg_copy_upsert) straight into the model's table, if none of them is
    there yet. In a savepoint: a row that a unique constraint finds already stored fails the COPY (at that row:
    a retried batch fails at its first), which is then undone, and False tells the caller to upsert instead.
    No look-up first: by span id across the partitions, its plan is at the mercy of lagging statistics."""
    if not rows:
        return True
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in rows[0]}
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            pg = cursor.cursor  # the psycopg cursor, for COPY
            if _lz4_available(pg):
                pg.execute("SET LOCAL default_toast_compression = lz4")
            with pg.copy(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({cols}) FROM STDIN") as copy:
                for values in _copy_rows(rows, fields, defaults):
                    copy.write_row(values)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def pg_copy_upsert(
    model: type[models.Model],
    rows: list[dict],
    *,
    temp_table: str,
    conflict: Sequence[str],
    update: Iterable[str],
    order_by: str = "",
    extra_set: str = "",
    returning: str = "",
) -> list[tuple]:
    """PostgreSQL: insert or update ``rows`` (dicts by attname; a missing field takes its default) by COPYing
    them into a temporary table shaped like the model's and merging it with one INSERT ... ON CONFLICT (the
    ``conflict`` columns) DO UPDATE (the ``update`` fields), in ``order_by`` order (lock order).

    Building the same statement through the ORM (model instances, one parameter per value) cost more than
    PostgreSQL running it. The temporary table is emptied after each merge, so several calls in one transaction
    never see each other's rows. Large values are TOASTed with lz4 where the server has it: several times faster
    than the default pglz, for a few % more bytes (SET LOCAL: this transaction only).
    """
    if not rows:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    update = set(update)
    quote = connection.ops.quote_name
    cols = ", ".join(quote(f.column) for f in fields)
    updates = ", ".join(
        [f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in fields if f.name in update]
        + ([extra_set] if extra_set else [])
    )
    table = quote(model._meta.db_table)
    order = f" ORDER BY {quote(order_by)}" if order_by else ""
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in rows[0]}
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:  # the caller's transaction: no savepoint
        pg = cursor.cursor  # the psycopg cursor, for COPY
        if _lz4_available(pg):
            pg.execute("SET LOCAL default_toast_compression = lz4")
        pg.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {temp_table} ON COMMIT DELETE ROWS AS SELECT {cols} FROM {table} WITH NO DATA"
        )
        with pg.copy(f"COPY {temp_table} ({cols}) FROM STDIN") as copy:
            for values in _copy_rows(rows, fields, defaults):
                copy.write_row(values)
        cursor.execute(  # through Django's cursor, as every write but the COPYs (query logging, execute_wrapper)
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {temp_table}{order} "
            f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO UPDATE SET {updates}"
            + (f" RETURNING {returning}" if returning else "")
        )
        out = cursor.fetchall() if returning else []
        pg.execute(f"TRUNCATE {temp_table}")  # ON COMMIT would too; a second call in one transaction needs it now
    return out


def _copy_rows(rows: list[dict], fields: list, defaults: dict) -> Iterable[tuple]:
    """The COPY rows: one value per field, JSON fields as text (None in a nullable one is SQL NULL, as for
    Span.lean; elsewhere JSON null), a missing field its default. Per row: a dict merge and one itemgetter
    call (C), plus a call per JSON field."""
    dumps = [
        (f.attname, _dump_nullable if f.null else dump_json) for f in fields if f.get_internal_type() == "JSONField"
    ]
    values = operator.itemgetter(*(f.attname for f in fields))
    for r in rows:
        row = {**defaults, **r}
        for attname, dump in dumps:
            row[attname] = dump(row[attname])
        yield values(row)


def _dump_nullable(value: Any) -> str | None:
    return None if value is None else dump_json(value)


_LZ4: dict[str, bool] = {}  # database alias -> whether its server was built with lz4 (PostgreSQL 14+)


def _lz4_available(pg_cursor) -> bool:
    alias = connection.alias
    if alias not in _LZ4:
        pg_cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        row = pg_cursor.fetchone()
        _LZ4[alias] = bool(row and row[0])
    return _LZ4[alias]


JSON_FIELDS = frozenset(f.attname for f in Span._meta.concrete_fields if f.get_internal_type() == "JSONField")
SPAN_UPDATE_FIELDS = [
    f.name
    for f in Span._meta.concrete_fields
    # received_at keeps the first arrival; eval_scores belong to evaluation, not to the sender
    if f.name not in ("id", "project", "span_id", "received_at", "eval_scores", "moved_from")
]


def spans_ingest(*, project: Project, raws: list[RawSpan], rejected: Iterable[Rejected] = ()) -> IngestResult:
    """Normalise and store a batch of spans in one transaction, upserting on (project, span_id).

    A span sent again (open, then ended; or retried) updates its row, so a retried batch never duplicates.
    Trace rows are upserted first and in a fixed order: their row locks serialise concurrent batches of one
    trace, so the aggregates computed at the end see every committed span. Follow-up work (trace settling)
    is enqueued by id after commit.
    """
    result = IngestResult(rejected=list(rejected))
    if not raws:
        return result
    by_id: dict[str, RawSpan] = {}
    for raw in raws:  # a span twice in one batch: the later copy wins, as on a re-send
        by_id[raw.span_id] = raw
    raws = sorted(by_id.values(), key=lambda r: r.span_id)

    prices = project.price_overrides or None
    normalized = [normalize(raw, prices=prices) for raw in raws]
    # Personal data is redacted before anything is written (traces.redact); the settings row is read once a batch.
    policy = privacy.policy_for(project, enabled=settings.PEEKR_REDACT_AT_INGEST)

    now = timezone.now()
    first_start: dict[str, int] = {}
    for raw in raws:
        if raw.trace_id not in first_start or raw.start_ns < first_start[raw.trace_id]:
            first_start[raw.trace_id] = raw.start_ns

    # The rows are built before the transaction (on SQLite: before the write turn, traces/write_queue.py); only
    # the trace ids are filled in inside.
    span_rows = _span_rows(project, raws, normalized, policy)
    with transaction.atomic():
        pending = _pending_log_events(project, [r.span_id for r in raws])
        if pending:
            normalized = [
                apply_log_events(n, pending[r.span_id]) if r.span_id in pending else n
                for r, n in zip(raws, normalized, strict=True)
            ]
            span_rows = _span_rows(project, raws, normalized, policy)
        pk_by_tid = traces_upsert(project, first_start, now)
        for raw, values in zip(raws, span_rows, strict=True):
            values["trace_id"] = pk_by_tid[raw.trace_id]
        left = spans_upsert(project, span_rows)
        if left:  # their rows were not locked by the trace upsert: lock them before recomputing their aggregates
            list(Trace.objects.select_for_update().filter(pk__in=left).order_by("pk").values_list("pk", flat=True))
        trace_pks = sorted(pk_by_tid.values())
        traces_refresh(trace_pks=sorted({*trace_pks, *left}))
        ended = sorted({pk_by_tid[r.trace_id] for r in raws if r.attributes.get(END_MARKER) in (True, "true", 1)})
        if ended:
            Trace.objects.filter(pk__in=ended).update(end_marker=True)
            transaction.on_commit(lambda: _enqueue_settle(ended, countdown=0))
        transaction.on_commit(lambda: _enqueue_settle(trace_pks))

    result.accepted = len(raws)
    result.trace_pks = trace_pks
    return result


def _span_rows(project: Project, raws: list[RawSpan], normalized: list[NormalizedSpan], policy) -> list[dict]:
    """The span rows of a batch, redacted (traces.redact), without their trace ids yet."""
    span_rows = []
    shared: dict = {}
    for raw, norm in zip(raws, normalized, strict=True):
        redactions: dict[str, int] = {}
        if policy.active:
            raw, norm, redactions = redact_span(policy, raw, norm, shared)
        values = _span_values(project, raw, norm)
        values["redactions"] = redactions
        span_rows.append(values)
    return span_rows


def _traces_left_behind(project: Project, span_rows: list[dict]) -> list[int]:
    """The traces that spans of this batch are moving out of (a span id re-sent under another trace id), looked up
    before the upsert (SQLite; on PostgreSQL the upsert returns them itself). A stored span re-sent with another
    start time takes it here, so the upsert finds its row.

    The move is accepted, not rejected: a client fixing a wrong trace id re-sends the span, and the later copy
    wins as on every re-send. The old trace's aggregates are then refreshed too, so none stays stale; its row
    stays (with empty aggregates if nothing is left), as do the scores and reviews attached to it.
    """
    new_trace = {r["span_id"]: r["trace_id"] for r in span_rows}
    new_start = {r["span_id"]: r["start_time"] for r in span_rows}
    old = set()
    stored = Span.objects.filter(project=project, span_id__in=list(new_trace))
    for pk, span_id, trace_pk, start in stored.values_list("pk", "span_id", "trace_id", "start_time"):
        if trace_pk != new_trace[span_id]:
            old.add(trace_pk)
        if start != new_start[span_id]:  # re-sent with another start time: its row takes it
            Span.objects.filter(pk=pk).update(start_time=new_start[span_id])
    return sorted(old)


def _pending_log_events(project: Project, span_ids: list[str]) -> dict[str, list]:
    from traces.otlp import LogEvent as PlainLogEvent

    found: dict[str, list] = {}
    if not LogEvent.objects.filter(project=project).exists():
        return found  # most projects never send GenAI log records: one index probe instead of 512
    for ev in LogEvent.objects.filter(project=project, span_id__in=span_ids).order_by("time_ns", "id"):
        found.setdefault(ev.span_id, []).append(
            PlainLogEvent(
                trace_id=ev.trace_id,
                span_id=ev.span_id,
                event_name=ev.event_name,
                time_ns=ev.time_ns,
                attributes=ev.attributes,
                body=ev.body,
                resource={},
            )
        )
    return found


def log_events_ingest(*, project: Project, events: list) -> int:
    """Store GenAI message log records and merge them into spans already stored (the others on arrival)."""
    rows = []
    policy = privacy.policy_for(project, enabled=settings.PEEKR_REDACT_AT_INGEST)
    for ev in events:
        if not ev.span_id:
            continue
        attributes, body = _clean(ev.attributes), _clean(ev.body)
        if policy.active:  # message bodies are merged into spans: redacted before they are stored at all
            redactor = Redactor(policy)
            attributes, body = redactor.value(attributes), redactor.value(body)
        digest = hashlib.sha1(
            json.dumps([ev.span_id, ev.event_name, ev.time_ns, attributes, body], sort_keys=True, default=str).encode()
        ).hexdigest()
        rows.append(
            LogEvent(
                project=project,
                trace_id=ev.trace_id,
                span_id=ev.span_id,
                event_name=_text(ev.event_name, 200),
                time_ns=ev.time_ns,
                attributes=attributes,
                body=body,
                digest=digest,
            )
        )
    if not rows:
        return 0
    with transaction.atomic():
        LogEvent.objects.bulk_create(rows, ignore_conflicts=True)
        span_ids = {r.span_id for r in rows}
        spans = list(Span.objects.filter(project=project, span_id__in=span_ids))
        if spans:
            pending = _pending_log_events(project, [s.span_id for s in spans])
            for span in spans:
                if span.lean:  # the messages change: keep the attributes whole rather than rebuilt from new ones
                    span.attributes, span.events, span.lean = lean.raw_attributes(span), lean.raw_events(span), None
                norm = NormalizedSpan(
                    input_messages=span.input_messages,
                    output_messages=span.output_messages,
                    input_text=span.input_text,
                    output_text=span.output_text,
                )
                norm = apply_log_events(norm, pending.get(span.span_id, []))
                span.input_messages = _clean(norm.input_messages)
                span.output_messages = _clean(norm.output_messages)
                span.input_text = _text(norm.input_text)
                span.output_text = _text(norm.output_text)
            Span.objects.bulk_update(
                spans,
                ["input_messages", "output_messages", "input_text", "output_text", "attributes", "events", "lean"],
            )
            traces_refresh(trace_pks=sorted({s.trace_id for s in spans}))
    return len(rows)


TRACE_AGGREGATE_FIELDS = [
    "start_time",
    "end_time",
    "duration_ms",
    "span_count",
    "error_count",
    "status",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
    "session_id",
    "user_id",
    "service_name",
    "release",
    "is_internal",
    "traffic",
    "request_key",
    "models_used",
    "name",
    "root_span_id",
    "root_ended",
    "input_preview",
    "output_preview",
    "environment",
    "tags",
]


EMPTY_AGGREGATES = {f: Trace._meta.get_field(f).get_default() for f in TRACE_AGGREGATE_FIELDS if f != "start_time"}


def traces_refresh(*, trace_pks: list[int]) -> None:
    """Recompute the aggregates of these traces from their spans (idempotent).

    Three grouped reads, then one executemany UPDATE: Django's bulk_update builds a CASE per field and row,
    which cost more than everything else on the ingest path.
    """
    if not trace_pks:
        return
    aggregates = (
        Span.objects.filter(trace_id__in=trace_pks)
        .values("trace_id")
        .annotate(
            start=Min("start_time"),
            end=Max("end_time"),
            n=Count("id"),
            span_ids=Count("span_id", distinct=True),
            errors=Count("id", filter=Q(status="error")),
            app_spans=Count("id", filter=Q(is_internal=False)),
            in_tok=Sum("input_tokens", filter=Q(kind__in=TOKEN_KINDS)),
            out_tok=Sum("output_tokens", filter=Q(kind__in=TOKEN_KINDS)),
            tot_tok=Sum("total_tokens", filter=Q(kind__in=TOKEN_KINDS)),
            cost=Sum("cost"),
            session=Max("session_id"),
            user=Max("user_id"),
            service=Max("service_name"),
            release=Max("release"),
            traffic=Max("traffic"),  # "shadow" > "": one shadow span makes the trace shadow
            request_key=Max("request_key"),
            **trace_fields.label_aggregates(),  # environment, tags (explorer filters)
        )
        .order_by()
    )
    models_by_trace: dict[int, set[str]] = {}
    for tpk, model in (
        Span.objects.filter(trace_id__in=trace_pks).exclude(model="").values_list("trace_id", "model").distinct()
    ):
        models_by_trace.setdefault(tpk, set()).add(model)
    roots: dict[int, dict] = {}
    for row in (
        Span.objects.filter(trace_id__in=trace_pks, parent_span_id="")
        .order_by("start_time")
        .values("trace_id", "span_id", "name", "end_time")
        .annotate(inp=Substr("input_text", 1, 300), out=Substr("output_text", 1, 300))
    ):
        roots.setdefault(row["trace_id"], row)
    rows = list(aggregates)
    copied = [agg["trace_id"] for agg in rows if agg["span_ids"] != agg["n"]]
    if copied:  # a span re-sent with another start time: one row again, then count afresh
        _span_copies_merge(trace_pks=copied)
        return traces_refresh(trace_pks=trace_pks)
    rootless = [a["trace_id"] for a in rows if a["trace_id"] not in roots]
    if rootless:  # the root has not arrived (or its parent is in another service): the earliest span stands in
        for row in Span.objects.filter(trace_id__in=rootless).order_by("start_time").values("trace_id", "name"):
            roots.setdefault(
                row["trace_id"], {"span_id": "", "name": row["name"], "end_time": None, "inp": "", "out": ""}
            )

    # A root without input or output of its own (an HTTP span): the first LLM call's input, the last one's output.
    stand_in = trace_fields.llm_io(trace_pks=[pk for pk, r in roots.items() if not (r["inp"] and r["out"])])
    adapt = connection.ops.adapt_datetimefield_value
    params = []
    for agg in rows:
        root = roots[agg["trace_id"]]
        llm_in, llm_out = stand_in.get(agg["trace_id"], ("", ""))
        start, end = agg["start"], agg["end"]
        params.append(
            (
                adapt(start),
                adapt(end),
                (end - start).total_seconds() * 1000 if end else None,
                agg["n"],
                agg["errors"],
                "error" if agg["errors"] else "ok",
                agg["in_tok"] or 0,
                agg["out_tok"] or 0,
                agg["tot_tok"] or 0,
                agg["cost"] or 0.0,
                agg["session"] or "",
                agg["user"] or "",
                agg["service"] or "",
                agg["release"] or "",
                agg["app_spans"] == 0,
                "shadow" if agg["traffic"] == "shadow" else "production",
                agg["request_key"] or "",
                " ".join(sorted(models_by_trace.get(agg["trace_id"], ())))[:500],
                root["name"],
                root["span_id"],
                root["end_time"] is not None and bool(root["span_id"]),
                root["inp"] or llm_in,
                root["out"] or llm_out,
                (agg["environment"] or "")[:100],
                trace_fields.tags_text(agg["tags_oi"], agg["tags_lf"]),
                agg["trace_id"],
            )
        )
    _traces_update(params)
    emptied = set(trace_pks) - {agg["trace_id"] for agg in rows}
    if emptied:  # every span moved to another trace: nothing left to count (start_time keeps its value)
        Trace.objects.filter(pk__in=emptied).update(**EMPTY_AGGREGATES)


def _traces_update(params: list[tuple]) -> None:
    """Write the aggregates: one row of TRACE_AGGREGATE_FIELDS values, then the trace's id, per trace. On
    PostgreSQL one UPDATE ... FROM unnest(<a typed array per column>): an UPDATE per trace (executemany) cost it
    ~3x the CPU. Elsewhere executemany, in id order. (At ingest the rows are locked already, in order, by the
    trace upsert and select_for_update: the order the join takes them in cannot deadlock.)"""
    if not params:
        return
    params = sorted(params, key=lambda row: row[-1])
    quote = connection.ops.quote_name
    table = quote(Trace._meta.db_table)
    fields = [Trace._meta.get_field(f) for f in TRACE_AGGREGATE_FIELDS]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", params)
            return
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        names = ", ".join(f"c{i}" for i in range(len(fields)))
        sets = ", ".join(f"{quote(f.column)} = v.c{i}" for i, f in enumerate(fields))
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM unnest({arrays}, %s::bigint[]) AS v({names}, id) WHERE {table}.id = v.id",
            [list(column) for column in zip(*params, strict=True)],
        )


def _span_copies_merge(*, trace_pks: list[int]) -> None:
    """One row per span id again in these traces, after a span was re-sent with another start time.

    start_time is in the upsert's key (the partition key on PostgreSQL), so such a re-send is inserted as a second
    row. Looking for the stored row before the upsert would mean a look-up by span id across partitions on every
    batch (once planned on span_model when statistics lagged: seconds a batch); traces_refresh instead notices a
    trace with more rows than span ids for free, and this merges them: the first row keeps its id (scores and
    review items point at it) and takes the latest copy's values, start time included (PostgreSQL moves it to
    its partition); the other copies go. A span re-sent under another trace id and with another start time is
    not noticed and stays twice (each trace shows its copy).
    """
    rows = Span.objects.filter(trace_id__in=trace_pks).values("id", "span_id", "start_time").order_by("id")
    copies: dict[str, list[dict]] = {}
    for row in rows:
        copies.setdefault(row["span_id"], []).append(row)
    fields = [Span._meta.get_field(f).attname for f in SPAN_UPDATE_FIELDS]
    for found in copies.values():
        if len(found) < 2:
            continue
        keep, latest = found[0], found[-1]
        values = Span.objects.filter(pk=latest["id"], start_time=latest["start_time"]).values(*fields).get()
        for extra in found[1:]:  # no score or review item points at a copy yet: nothing to cascade to
            Span.objects.filter(pk=extra["id"], start_time=extra["start_time"])._raw_delete(connection.alias)
        Span.objects.filter(pk=keep["id"], start_time=keep["start_time"]).update(**values)


def _enqueue_settle(trace_pks: list[int], countdown: float | None = None) -> None:
    # The spans are committed: a broker outage must not fail the request. The periodic sweep settles
    # whatever this message would have.
    from traces.tasks import trace_settle

    try:
        quiet = settings.PEEKR_TRACE_QUIET_SECONDS if countdown is None else countdown
        trace_settle.apply_async(args=[trace_pks], countdown=quiet)
    except Exception:  # noqa: BLE001
        log.warning("could not enqueue trace_settle for %d traces; the sweep will", len(trace_pks), exc_info=True)


@dataclass
class Settled:
    completed: list[int] = field(default_factory=list)  # completed by this call
    waits: dict[int, float] = field(default_factory=dict)  # still receiving spans: seconds until quiet


def traces_settle(*, trace_pks: Sequence[int], now: datetime | None = None) -> Settled:
    """Complete the traces whose root ended and that have been quiet (or abandoned), in three queries. The caller
    (the settle task) runs the pipeline on ``completed`` right away.

    The UPDATE repeats the conditions, so a span landing between the read and the write (its last_span_at is
    newer) keeps its trace open; the traces it did complete are those now carrying this call's timestamp.
    """
    now = now or timezone.now()
    quiet = timedelta(seconds=settings.PEEKR_TRACE_QUIET_SECONDS)
    out = Settled()
    rows = Trace.objects.filter(pk__in=list(trace_pks), completed_at__isnull=True).values(
        "pk", "last_span_at", "root_ended", "end_marker"
    )
    due = []
    for row in rows:
        idle = now - row["last_span_at"]
        if idle < quiet and not row["end_marker"]:
            out.waits[row["pk"]] = (quiet - idle).total_seconds()
        elif row["root_ended"] or row["end_marker"] or idle >= ABANDONED_AFTER:
            due.append(row["pk"])
        # else: the root's own arrival re-enqueues; the sweep catches abandoned traces
    if due:
        ready = Q(end_marker=True) | Q(last_span_at__lte=now - quiet) & (
            Q(root_ended=True) | Q(last_span_at__lte=now - ABANDONED_AFTER)
        )
        Trace.objects.filter(ready, pk__in=due, completed_at__isnull=True).update(completed_at=now)
        out.completed = sorted(Trace.objects.filter(pk__in=due, completed_at=now).values_list("pk", flat=True))
    return out


def trace_settle(*, trace_pk: int, now: datetime | None = None) -> float | None:
    """One trace: None when done (completed now, earlier, or gone), else the seconds to wait before asking again."""
    return traces_settle(trace_pks=[trace_pk], now=now).waits.get(trace_pk)


def traces_due_for_settling(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    now = now or timezone.now()
    quiet = timedelta(seconds=settings.PEEKR_TRACE_QUIET_SECONDS)
    due = Trace.objects.filter(completed_at__isnull=True).filter(
        Q(root_ended=True, last_span_at__lte=now - quiet) | Q(last_span_at__lte=now - ABANDONED_AFTER)
    )
    return list(due.order_by("last_span_at").values_list("pk", flat=True)[:limit])


def project_create(*, name: str, owner=None, key_scope: str = KeyScope.INGEST) -> tuple[Project, str]:
    """Create a project and its first key (ingest-only unless asked); the raw key is returned once and never
    stored."""
    with transaction.atomic():
        project = Project.objects.create(name=name)
        _, raw = api_key_create(project=project, name="default", scope=key_scope)
        privacy.privacy_settings_create(project=project)
        if owner is not None:
            Membership.objects.create(project=project, user=owner, role=Role.OWNER)
        extensions.project_created(project)
    return project, raw


def api_key_create(*, project: Project, name: str = "default", scope: str = KeyScope.INGEST) -> tuple[ApiKey, str]:
    raw = ApiKey.generate()
    key = ApiKey.objects.create(
        project=project,
        name=name,
        key_hash=ApiKey.hash(raw),
        display=raw[:10],
        public_key=ApiKey.generate_public(),
        scope=scope,
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


# --- Saved views of the trace list ---


def saved_view_save(*, user, project: Project, name: str, query: str):
    """Save (or replace, by name) one of the user's views of the project's trace list."""
    from traces.models import SavedView

    view, _ = SavedView.objects.update_or_create(user=user, project=project, name=name, defaults={"query": query})
    return view


def saved_view_remove(*, user, project: Project, view_id: int) -> bool:
    """Delete one of the user's own views; False when there is none with that id (another user's, say)."""
    from traces.models import SavedView

    deleted, _ = SavedView.objects.filter(user=user, project=project, pk=view_id).delete()
    return bool(deleted)
