"""Reads for traces shared by the HTML views and the JSON API."""

from __future__ import annotations

import base64
import json
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Lookup,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from traces.models import ApiKey, Project, Span, Trace

STATUSES = ("ok", "error")


def project_for_key(raw_key: str, public_key: str | None = None) -> Project | None:
    """The project of an active key that may ingest (its use recorded, at most once a minute); with public_key (a
    Basic key pair) only when it is that key's public part. The receivers' one access check."""
    from traces import access

    key = access.key_authenticate(raw_key, public_key)
    if key is None or not access.scope_can(key.scope, access.Action.INGEST):
        return None
    return key.project


def request_credentials(request) -> tuple[str, str | None]:
    """(secret key, public key or None) from `Authorization: Bearer <key>`, `Authorization: Basic
    base64(public:secret)` (the Langfuse SDKs' key pair) or `X-Peekr-Key`; ("", None) when there are none or
    they cannot be read."""
    return credentials_from_header(request.headers.get("Authorization", ""), request.headers.get("X-Peekr-Key", ""))


def credentials_from_header(authorization: str, peekr_key: str = "") -> tuple[str, str | None]:
    """The same from the header values themselves (gRPC metadata carries them too)."""
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip(), None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return "", None
        public, sep, secret = decoded.partition(":")
        return (secret, public) if sep and public and secret else ("", None)
    return peekr_key.strip(), None


TEXT_OPS = ("eq", "contains", "prefix")  # equals (exact), contains / starts with (case-insensitive on both databases)
TEXT_FIELDS = ("name", "model", "session_id", "user_id", "service", "release", "environment", "tag")
DEFAULT_OPS = {"name": "contains"}  # every other text filter means "equals" unless its `<field>_op` says otherwise
ATTRIBUTE_SCAN_TRACES = 10_000  # an attribute filter looks at most at the newest this many otherwise-matching traces


@dataclass
class TraceFilters:
    """The trace list's filters; the same names in the page URL and in the API's query string."""

    start_after: datetime | None = None
    start_before: datetime | None = None
    name: str = ""
    status: str = ""
    model: str = ""
    session_id: str = ""
    user_id: str = ""
    service: str = ""
    release: str = ""
    environment: str = ""
    tag: str = ""
    ops: dict[str, str] = field(default_factory=dict)  # {text field: "eq" | "contains" | "prefix"}
    attr_key: str = ""  # a span attribute (or resource attribute) key, e.g. "http.route"
    attr_op: str = "eq"
    attr_value: str = ""
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    has_error: bool | None = None
    include_internal: bool = False
    search: str = ""  # words and "quoted phrases" in the spans' content (traces.search)
    pk_in: list[QuerySet] = field(default_factory=list)  # subqueries of trace pks, e.g. evals' score filters

    def op(self, name: str) -> str:
        op = self.ops.get(name) or DEFAULT_OPS.get(name, "eq")
        return op if op in TEXT_OPS else "eq"


class _ILike(Lookup):
    """`column ILIKE pattern` on PostgreSQL (LIKE on SQLite, case-insensitive there): unlike Django's icontains
    (UPPER(column) LIKE UPPER(...)), the planner estimates it from the column's statistics, so a common match walks
    the trace_list index newest first instead of scanning every trace of the project (0.3 ms vs 180 ms at 100,000
    traces for "model contains sonnet")."""

    lookup_name = "peekr_ilike"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        op = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
        return f"{lhs} {op} {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


def _like(column: str, before: str, value: str, after: str) -> Q:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Q(_ILike(F(column), Value(f"{before}{escaped}{after}")))


def _text_q(column: str, op: str, value: str) -> Q:
    if op == "contains":
        return _like(column, "%", value, "%")
    if op == "prefix":
        return _like(column, "", value, "%")
    return Q(**{column: value})


def _list_q(column: str, sep: str, op: str, value: str, *, closed: bool) -> Q:
    """A filter on a column holding a list: "a b c" (closed=False) or "|a|b|c|" (closed=True)."""
    if op == "contains":
        return _like(column, "%", value, "%")
    if closed:
        return (
            Q(**{f"{column}__contains": f"{sep}{value}{sep}"}) if op == "eq" else _like(column, f"%{sep}", value, "%")
        )
    if op == "prefix":
        return _like(column, "", value, "%") | _like(column, f"%{sep}", value, "%")
    return (
        Q(**{column: value})
        | Q(**{f"{column}__startswith": f"{value}{sep}"})
        | Q(**{f"{column}__endswith": f"{sep}{value}"})
        | Q(**{f"{column}__contains": f"{sep}{value}{sep}"})
    )


def _attribute_q(project: Project, key: str, op: str, value: str) -> Exists:
    """Traces with a span whose attribute (or resource attribute) `key` matches, as an EXISTS per trace.

    It probes span_trace (trace, start_time): spans start no earlier than their trace, which also lets PostgreSQL
    skip the span partitions older than the trace. A key is one JSON key however many dots it holds. An attribute
    that recurs across spans may be stored once for all of them (traces.shared_values): spans naming a bundle
    that holds a matching value match too.
    """
    from traces import shared_values

    spans = Span.objects.filter(trace_id=OuterRef("pk"), start_time__gte=OuterRef("start_time")).annotate(
        _attr=Cast(KeyTextTransform(key, "attributes"), CharField()),
        _res=Cast(KeyTextTransform(key, "resource"), CharField()),
    )
    matching = _text_q("_attr", op, value) | _text_q("_res", op, value)
    bundles = shared_values.bundles_matching(project.pk, key, op, value)
    if bundles:
        matching |= Q(lean__s__in=bundles)
    return Exists(spans.filter(matching))


def traces_filtered(*, project: Project, filters: TraceFilters) -> QuerySet[Trace]:
    """Column filters on the trace row (aggregates: the list never scans spans), then the attribute filter, which
    looks at spans for at most the newest ATTRIBUTE_SCAN_TRACES traces the other filters keep."""
    qs = Trace.objects.filter(project=project)
    f = filters
    if not f.include_internal:
        qs = qs.filter(is_internal=False)
    if f.start_after:
        qs = qs.filter(start_time__gte=f.start_after)
    if f.start_before:
        qs = qs.filter(start_time__lt=f.start_before)
    if f.name:
        qs = qs.filter(_text_q("name", f.op("name"), f.name))
    if f.status in STATUSES:
        qs = qs.filter(status=f.status)
    if f.model:
        qs = qs.filter(_list_q("models_used", " ", f.op("model"), f.model, closed=False))
    for name, column, what in (("session_id", "session_id", "session"), ("user_id", "user_id", "user")):
        value = getattr(f, name)
        if not value:
            continue
        if f.op(name) == "eq":
            # Ids may be stored hashed (privacy settings): a raw id typed by support is hashed to match.
            from traces.privacy import stored_ids

            qs = qs.filter(**{f"{column}__in": stored_ids(project=project, what=what, value=value)})
        else:
            qs = qs.filter(_text_q(column, f.op(name), value))
    for name, column in (("service", "service_name"), ("release", "release"), ("environment", "environment")):
        if getattr(f, name):
            qs = qs.filter(_text_q(column, f.op(name), getattr(f, name)))
    if f.tag:
        qs = qs.filter(_list_q("tags", "|", f.op("tag"), f.tag.replace("|", "/"), closed=True))
    if f.min_duration_ms is not None:
        qs = qs.filter(duration_ms__gte=f.min_duration_ms)
    if f.max_duration_ms is not None:
        qs = qs.filter(duration_ms__lte=f.max_duration_ms)
    if f.min_cost is not None:
        qs = qs.filter(cost__gte=f.min_cost)
    if f.max_cost is not None:
        qs = qs.filter(cost__lte=f.max_cost)
    if f.has_error is True:
        qs = qs.filter(error_count__gt=0)
    elif f.has_error is False:
        qs = qs.filter(error_count=0)
    for pks in f.pk_in:
        qs = qs.filter(pk__in=pks)
    if f.search:
        from traces import search

        qs = search.traces_matching(qs, project=project, q=f.search, include_internal=f.include_internal)
    if f.attr_key:
        newest = qs.order_by("-start_time", "-pk").values("pk")[:ATTRIBUTE_SCAN_TRACES]
        qs = Trace.objects.filter(pk__in=newest).filter(_attribute_q(project, f.attr_key, f.attr_op, f.attr_value))
    return qs


COUNT_BOUND = 10_000
# A search's matches are checked trace by trace once a word is common (traces.search): counting 10,000 of them
# took minutes at 1,000,000 spans, so a search counts to 500 ("500+").
SEARCH_COUNT_BOUND = 500


def traces_count(*, project: Project, filters: TraceFilters, bound: int = COUNT_BOUND) -> tuple[int, bool]:
    """(matching traces, True when there are more than `bound`): exact up to the bound, never reads past it."""
    if _newest_first_search(filters):
        from traces import search

        with search.planner():
            # Up to bound + 1 matches: a search walks newest first and stops there.
            qs = traces_filtered(project=project, filters=replace(filters, search=""))
            n = search.count_newest(
                qs, project=project, q=filters.search, bound=bound, include_internal=filters.include_internal
            )
    else:
        n = traces_filtered(project=project, filters=filters).order_by()[: bound + 1].count()
    return min(n, bound), n > bound


def _newest_first_search(filters: TraceFilters, sort: str = "-start") -> bool:
    """A search read newest first (the list's default order, the count): traces.search.traces_newest answers it
    without collecting every match. The attribute filter looks at the newest traces the search keeps: not here."""
    return bool(filters.search) and sort == "-start" and not filters.attr_key


def _searched_newest(*, project: Project, filters: TraceFilters, need: int, after: tuple | None = None) -> QuerySet:
    """traces_filtered for a newest-first search whose first `need` traces (older than `after`) are read."""
    from traces import search

    qs = traces_filtered(project=project, filters=replace(filters, search=""))
    if after:
        start_time, pk = after
        qs = qs.filter(Q(start_time__lt=start_time) | Q(start_time=start_time, pk__lt=pk))
    return search.traces_newest(
        qs, project=project, q=filters.search, need=need, include_internal=filters.include_internal
    )


# --- Sorting and keyset pages ---

SORTS = ("start", "duration", "cost", "tokens", "score")
SORT_COLUMNS = {"duration": "duration_ms", "cost": "cost", "tokens": "total_tokens"}
_NULL_LAST = 1e18  # a missing value (an open trace's duration, an unscored trace) sorts last either way


def sort_parse(sort: str, extra: dict | None = None) -> tuple[str, bool]:
    """("start", True) for "-start"; an unknown key falls back to newest first."""
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "start" or key in SORT_COLUMNS or key in (extra or {}):
        return key, desc
    return "start", True


def _sort_expression(key: str, desc: bool, extra: dict | None):
    if key == "start":
        return F("start_time")
    expr = extra[key]() if key in (extra or {}) else F(SORT_COLUMNS[key])
    return Coalesce(expr, Value(-_NULL_LAST if desc else _NULL_LAST), output_field=FloatField())


def encode_cursor(trace: Trace, sort: str = "-start") -> str:
    value = getattr(trace, "_sort_value", trace.start_time)
    value = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([trace.start_time.isoformat(), trace.pk] if sort == "-start" else [sort, value, trace.pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str = "-start") -> tuple | None:
    """(sort value, pk) of the last trace of the previous page; None when unreadable or made for another sort."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if len(raw) == 2:  # newest first (the cursor's original shape)
            made_for, (value, pk) = "-start", raw
        else:
            made_for, value, pk = raw
        if made_for != sort:
            return None
        if sort.lstrip("-") == "start":
            return datetime.fromisoformat(value), int(pk)
        return float(value), int(pk)
    except (ValueError, TypeError):
        return None


@dataclass
class TracePage:
    items: list[Trace]
    next_cursor: str | None


def trace_page(
    *,
    project: Project,
    filters: TraceFilters,
    cursor: str = "",
    limit: int = 50,
    annotate: dict | None = None,
    sort: str = "-start",
    sorts: dict | None = None,
) -> TracePage:
    """Keyset-paginated on (sort value, id), newest first unless `sort` says otherwise ("cost", "-duration"...):
    page 2,000 costs what page 1 does, under every sort.

    annotate: expressions to add to each trace in the same query (e.g. evals' per-trace score counts).
    sorts: extra sort keys, {key: () -> expression} (e.g. evals' "score", the trace's lowest score).
    """
    key, desc = sort_parse(sort, sorts)
    sort = f"-{key}" if desc else key
    after = decode_cursor(cursor, sort) if cursor else None
    with _search_planner(filters):
        if _newest_first_search(filters, sort):
            qs = _searched_newest(project=project, filters=filters, need=limit + 1, after=after)
        else:
            qs = traces_filtered(project=project, filters=filters)
        if annotate:
            qs = qs.annotate(**annotate)
        qs = qs.annotate(_sort_value=_sort_expression(key, desc, sorts))
        if after:
            value, pk = after
            beyond = "lt" if desc else "gt"
            qs = qs.filter(Q(**{f"_sort_value__{beyond}": value}) | Q(_sort_value=value, **{f"pk__{beyond}": pk}))
        order = ("-_sort_value", "-pk") if desc else ("_sort_value", "pk")
        items = list(qs.order_by(*order)[: limit + 1])
    next_cursor = encode_cursor(items[limit - 1], sort) if len(items) > limit else None
    return TracePage(items=items[:limit], next_cursor=next_cursor)


def _search_planner(filters: TraceFilters):
    """traces.search.planner() around a search's queries, nothing around the others."""
    if not filters.search:
        return nullcontext()
    from traces import search

    return search.planner()


def saved_views(*, user, project: Project) -> list:
    """The user's saved views of this project's trace list, by name."""
    from traces.models import SavedView

    return list(SavedView.objects.filter(user=user, project=project).order_by("name", "pk"))


def trace_get(*, project: Project, trace_id: str) -> Trace | None:
    return Trace.objects.filter(project=project, trace_id=trace_id.lower()).first()


def trace_spans(*, trace: Trace) -> list[Span]:
    return list(Span.objects.filter(trace=trace).order_by("start_time", "id"))


def trace_span_values(
    *, trace: Trace, columns: list, after: tuple[datetime, int] | None = None, limit: int | None = None
) -> list[tuple]:
    """A trace's spans as tuples of ``columns`` (field names or expressions), in one query, ordered by
    (start time, id); ``after`` = the (start time, id) of the last span of the previous page. No model instance:
    the JSON API serialises the tuples as they come (JSON columns are read as their text, never parsed)."""
    rows = Span.objects.filter(trace=trace)
    if after is not None:
        rows = rows.filter(Q(start_time__gt=after[0]) | Q(start_time=after[0], id__gt=after[1]))
    rows = rows.order_by("start_time", "id").values_list(*columns)
    return list(rows[:limit] if limit is not None else rows)


def spans_by_pk(*, pks: list[int]) -> dict[int, Span]:
    return {span.pk: span for span in Span.objects.filter(pk__in=pks)}


def span_get(*, project: Project, span_id: str) -> Span | None:
    return Span.objects.select_related("trace").filter(project=project, span_id=span_id.lower()).first()


SESSION_WALK_CHUNK = 1000  # traces read per step of the newest-first walk
SESSION_WALK_MAX = 20  # steps before giving up on the walk (sessions are rare): one grouped scan instead


def sessions_page(
    *, project: Project, limit: int = 50, before: datetime | None = None, after_session: str = ""
) -> list[dict]:
    """Sessions, most recently active first, then by id, with their trace counts and totals.

    Keyset pages: with ``before`` (and ``after_session``, the last session of the previous page), the sessions
    whose (last activity, id) come after (``before``, ``after_session``) in that order.

    Two steps, so that a page costs about the same at 1,000 or 100,000 traces: walk the newest traces (the
    trace_list index) until ``limit`` sessions are found, then aggregate only those (the trace_session index).
    Sessions tied with the last one found are taken too, so the page is exactly the one grouping every trace
    gives (ordered by last activity, then session id). At 100,000 traces in 20,000 sessions (PostgreSQL):
    ~17 ms a page, against ~50 ms for grouping every trace.
    """
    sessions = Trace.objects.filter(project=project, is_internal=False).exclude(session_id="")
    walk = sessions.order_by("-start_time", "-id")
    if before:
        walk = walk.filter(start_time__lte=before)
    picked: dict[str, datetime] = {}  # session -> its last activity (its first trace met on the walk)
    # On an earlier page: active after `before`, or tied with it and not after `after_session`.
    skipped: set[str] = set()
    boundary: datetime | None = None  # the limit-th session's last activity, once reached
    cursor = None
    for _ in range(SESSION_WALK_MAX):
        step = walk
        if cursor is not None:
            step = step.filter(Q(start_time__lt=cursor[0]) | Q(start_time=cursor[0], id__lt=cursor[1]))
        rows = list(step.values_list("session_id", "start_time", "id")[:SESSION_WALK_CHUNK])
        new: dict[str, datetime] = {}
        for sid, start, _ in rows:
            if sid not in picked and sid not in skipped and sid not in new:
                new[sid] = start
        if before and new:
            skipped |= set(
                sessions.filter(session_id__in=list(new), start_time__gt=before).values_list("session_id", flat=True)
            )
            skipped |= {sid for sid, last in new.items() if last == before and sid <= after_session}
        for sid, last in new.items():
            if sid in skipped:
                continue
            if boundary is not None and last < boundary:
                break
            picked[sid] = last
            if boundary is None and len(picked) == limit:
                boundary = last
        if len(rows) < SESSION_WALK_CHUNK or (boundary is not None and rows[-1][1] < boundary):
            break
        cursor = rows[-1][1:]
    else:
        return _sessions_grouped(sessions, limit=limit, before=before, after_session=after_session)
    if not picked:
        return []
    return _sessions_grouped(
        sessions.filter(session_id__in=list(picked)), limit=limit, before=before, after_session=after_session
    )


def _sessions_grouped(
    qs: QuerySet[Trace], *, limit: int, before: datetime | None, after_session: str = ""
) -> list[dict]:
    rows = qs.values("session_id").annotate(
        traces=Count("id"),
        first=Min("start_time"),
        last=Max("start_time"),
        tokens=Sum("total_tokens"),
        cost=Sum("cost"),
        errors=Sum("error_count"),
        user=Max("user_id"),
    )
    if before:
        rows = rows.filter(Q(last__lt=before) | Q(last=before, session_id__gt=after_session))
    return list(rows.order_by("-last", "session_id")[:limit])


def session_traces(*, project: Project, session_id: str) -> list[Trace]:
    return list(Trace.objects.filter(project=project, session_id=session_id).order_by("start_time", "pk"))


# --- The trace explorer's reads (HTML views) ---


def membership_get(*, user, project_id: int):
    """The user's membership in the project (with the project), or None: the explorer's one access check."""
    from traces.models import Membership

    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("project").filter(user=user, project_id=project_id).first()


def user_projects(*, user) -> QuerySet[Project]:
    """Projects the user is a member of, by name (the project switcher; "/" opens the first)."""
    return Project.objects.filter(memberships__user=user).order_by("name", "pk")


def project_has_traces(*, project: Project) -> bool:
    return Trace.objects.filter(project=project, is_internal=False).exists()


@dataclass(slots=True)
class SpanBar:
    """What a waterfall row shows of a span: no payloads, and no model instance to build per span."""

    span_id: str
    parent_span_id: str
    name: str
    kind: str
    model: str
    start_time: datetime
    end_time: datetime | None
    duration_ms: float | None
    status: str
    total_tokens: int | None
    cost: float | None
    eval_scores: list  # written back by evaluation: [{"evaluator", "value", "passed", "status", ...}], badged by it


def waterfall_spans(*, trace: Trace) -> list[SpanBar]:
    """A trace's spans for its waterfall, in one query; a 5,000-span trace loads in a few milliseconds."""
    # A slots dataclass's __slots__ are its fields, in order: the columns to select.
    rows = Span.objects.filter(trace=trace).order_by("start_time", "id").values_list(*SpanBar.__slots__)
    return [SpanBar(*row) for row in rows]


def api_keys_list(*, project: Project) -> list[ApiKey]:
    """Active keys first, then revoked ones, newest first within each."""
    from django.db.models import F

    # NULLs sort differently on SQLite and PostgreSQL: say where the active (unrevoked) keys go.
    return list(
        ApiKey.objects.filter(project=project).order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-pk")
    )


def api_key_get(*, project: Project, key_id: int) -> ApiKey | None:
    return ApiKey.objects.filter(project=project, pk=key_id).first()
