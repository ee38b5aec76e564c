"""Reads for traces shared by the HTML views and the JSON API."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum

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
    min_duration_ms: float | None = None
    has_error: bool | None = None
    include_internal: bool = False
    pk_in: list[QuerySet] = field(default_factory=list)  # subqueries of trace pks, e.g. evals' score filters


def traces_filtered(*, project: Project, filters: TraceFilters) -> QuerySet[Trace]:
    qs = Trace.objects.filter(project=project)
    f = filters
    if not f.include_internal:
        qs = qs.filter(is_internal=False)
    if f.start_after:
        qs = qs.filter(start_time__gte=f.start_after)
    if f.start_before:
        qs = qs.filter(start_time__lt=f.start_before)
    if f.name:
        qs = qs.filter(name__icontains=f.name)
    if f.status in STATUSES:
        qs = qs.filter(status=f.status)
    if f.model:
        qs = qs.filter(Exists(Span.objects.filter(trace=OuterRef("pk"), model=f.model)))
    if f.session_id or f.user_id:
        # Ids may be stored hashed (privacy settings): a raw id typed by support is hashed to match.
        from traces.privacy import stored_ids

        if f.session_id:
            qs = qs.filter(session_id__in=stored_ids(project=project, what="session", value=f.session_id))
        if f.user_id:
            qs = qs.filter(user_id__in=stored_ids(project=project, what="user", value=f.user_id))
    if f.service:
        qs = qs.filter(service_name=f.service)
    if f.min_duration_ms is not None:
        qs = qs.filter(duration_ms__gte=f.min_duration_ms)
    if f.has_error is True:
        qs = qs.filter(error_count__gt=0)
    elif f.has_error is False:
        qs = qs.filter(error_count=0)
    for pks in f.pk_in:
        qs = qs.filter(pk__in=pks)
    return qs


def encode_cursor(trace: Trace) -> str:
    raw = json.dumps([trace.start_time.isoformat(), trace.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, pk = json.loads(raw)
        return datetime.fromisoformat(start), int(pk)
    except (ValueError, TypeError):
        return None


@dataclass
class TracePage:
    items: list[Trace]
    next_cursor: str | None


def trace_page(
    *, project: Project, filters: TraceFilters, cursor: str = "", limit: int = 50, annotate: dict | None = None
) -> TracePage:
    """Newest first, keyset-paginated on (start_time, id) so page 2,000 costs what page 1 does.

    annotate: expressions to add to each trace in the same query (e.g. evals' per-trace score counts).
    """
    qs = traces_filtered(project=project, filters=filters)
    if annotate:
        qs = qs.annotate(**annotate)
    after = decode_cursor(cursor) if cursor else None
    if after:
        start, pk = after
        qs = qs.filter(Q(start_time__lt=start) | Q(start_time=start, pk__lt=pk))
    items = list(qs.order_by("-start_time", "-pk")[: limit + 1])
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    return TracePage(items=items[:limit], next_cursor=next_cursor)


def trace_get(*, project: Project, trace_id: str) -> Trace | None:
    return Trace.objects.filter(project=project, trace_id=trace_id.lower()).first()


def trace_spans(*, trace: Trace) -> list[Span]:
    return list(Span.objects.filter(trace=trace).order_by("start_time", "id"))


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
