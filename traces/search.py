"""Full-text search over span content: the trace list's `q` and the API's `?q=` (issue 15).

What is searched, per span: its name, tool name, input and output (text and messages), documents, tool arguments and
result, error, and its metadata (the attributes' string values shorter than 300 characters: normalisation has
already taken the content out of `attributes`, what is left is the metadata, tags and ids). Each field is indexed up
to a cap (SEARCH_CAPS below: the PostgreSQL function and the SQLite triggers of migration 0016 carry the same
numbers), so a 5 MB data URL cannot make a span's index entry fail its ingest batch.

Query language: words (every word must occur in the same span, in any field) and "quoted phrases" (the words in
that order). Words are whole words, case-insensitive, no stemming (PostgreSQL's `simple` configuration, SQLite's
`unicode61` tokenizer: the same query finds the same spans on both databases).

- PostgreSQL: a GIN index (`span_search`) on the expression `peekr_span_search(...)`, an IMMUTABLE SQL function of
  the span's columns returning its tsvector (migration 0016). Nothing is stored in the row; the partitioned
  table's index is created on every partition (and on each partition attached later, traces.partitions).
- SQLite: an FTS5 table `traces_span_search` (contentless, rowid = the span's id) kept in sync by triggers on
  traces_span insert, update of a content column, and delete. Contentless because the indexed text is not a
  column as stored (messages are JSON, whose escapes would glue words together: their string values are indexed).

Spans of the project only; Peekr's internal spans are never matched (unless the list shows internal traces);
retention empties the content columns, which takes the content out of the index in the same UPDATE.

The list's page and its bounded count read only the newest matches (traces_newest): on PostgreSQL a word neither
rare nor very common is found by walking the newest traces in windows (the GIN index and span_trace together), then
week by week, stopping once enough are found, instead of collecting every matching span (_walk).

Snippets (`hits`) are cut in Python from the few matching spans of the traces on the page, never for all matches.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, Expression, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from traces.models import Project, Span, Trace
from traces.retention import PARTITION_DAYS, partition_bounds

FTS_TABLE = "traces_span_search"
PG_FUNCTION = "peekr_span_search"
PG_INDEX = "span_search"
MAX_QUERY_CHARS = 500
MAX_TERMS = 16
HITS_PER_TRACE = 3
SNIPPET_BEFORE = 60
SNIPPET_AFTER = 140

# The columns indexed, in the order the PostgreSQL function takes them, and each field's cap in characters.
SEARCH_COLUMNS = (
    "name",
    "tool_name",
    "input_text",
    "output_text",
    "tool_arguments",
    "tool_result",
    "error",
    "input_messages",
    "output_messages",
    "documents",
    "attributes",
)
TEXT_CAP = 40_000  # input_text, output_text, tool_result, each JSON column's strings
SMALL_CAP = 10_000  # tool_arguments, error
METADATA_VALUE_CHARS = 300  # attribute string values this long or longer are content, not metadata

FIELD_LABELS = {
    "name": "name",
    "tool_name": "tool",
    "input_text": "input",
    "output_text": "output",
    "input_messages": "input messages",
    "output_messages": "output messages",
    "documents": "documents",
    "tool_arguments": "tool arguments",
    "tool_result": "tool result",
    "error": "error",
    "attributes": "metadata",
}
# Where a snippet is looked for first: content before the name, which every span of a trace may share.
SNIPPET_ORDER = (
    "input_messages",
    "input_text",
    "output_messages",
    "output_text",
    "tool_arguments",
    "tool_result",
    "documents",
    "error",
    "attributes",
    "tool_name",
    "name",
)

_TOKEN = re.compile(r"[^\W_]+")
_PHRASE = re.compile(r'"([^"]*)"?')


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...]  # as typed (PostgreSQL's parser tokenises them like the indexed text)
    phrases: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not any(_TOKEN.search(t) for t in (*self.words, *self.phrases))


@dataclass(frozen=True)
class Hit:
    span_id: str
    span_name: str
    field: str  # a FIELD_LABELS value
    snippet: SafeString  # HTML-escaped text with the matches in <mark>


def parse(q: str) -> Query:
    """Words and "quoted phrases" (a quote left open runs to the end)."""
    q = (q or "")[:MAX_QUERY_CHARS]
    phrases = tuple(p.strip() for p in _PHRASE.findall(q) if _TOKEN.search(p))
    rest = _PHRASE.sub(" ", q)
    words = tuple(w for w in rest.split() if _TOKEN.search(w))
    return Query(words=words[:MAX_TERMS], phrases=phrases[:MAX_TERMS])


# --- Matching ---

FTS_SET_LIMIT = 20_000  # SQLite: up to this many matching spans are collected as a set, past it traces are walked
PG_SET_LIMIT = 50_000  # PostgreSQL, every match wanted (a sort other than newest first): the set up to this many spans
# PostgreSQL, the newest matches wanted (the list's first page, the bounded count), on the planner's estimate of the
# spans holding every word: up to PG_WALK_FROM the set; from PG_ROWS_SHARE of the project's spans span by span; in
# between the newest traces are walked in windows (traces_newest).
PG_WALK_FROM = 5_000
PG_ROWS_SHARE = 0.5


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _fts5_match(query: Query) -> str:
    """An FTS5 MATCH expression built from tokens only, each quoted: nothing the user types is FTS5 syntax."""
    parts = [f'"{tok}"' for w in query.words for tok in _tokens(w)]
    parts += ['"' + " ".join(_tokens(p)) + '"' for p in query.phrases]
    return " AND ".join(parts)


_SEP = r"([^[:alnum:]]|\\[nrt])+"  # between a phrase's words: anything but a letter or digit (a JSON escape too)

RAW_COLUMNS = SEARCH_COLUMNS[:-1]  # a phrase is looked for in the raw text of all but the metadata


def _pg_phrase_regex(phrase: str) -> str:
    """A POSIX regex (case-insensitive match) for the phrase's words in order, on the span's raw text."""
    return rf"(^|[^[:alnum:]]|\\[nrt]){_SEP.join(_tokens(phrase))}($|[^[:alnum:]]|\\)"


class _OnTable(Expression):
    """A condition in SQL over the columns of the table of the query it is compiled in (its alias may be U0 in a
    subquery)."""

    output_field = BooleanField()
    conditional = True

    def _alias(self, compiler) -> str:
        return compiler.quote_name_unless_alias(compiler.query.get_initial_alias())


class _SpanCondition(_OnTable):
    def __init__(self, query: Query, *, phrases: bool = True):
        super().__init__()
        self.query = query
        self.phrases = phrases


class _PgMatch(_SpanCondition):
    """peekr_span_search(<the span's columns>) @@ plainto_tsquery(every word, the phrases' too): the expression of
    the span_search index, which answers a query of words exactly (no recheck, the tsvector is never computed
    again); a phrase is then checked by a regex on the raw text of the spans that hold its words (phrases=False:
    the words only, what the index answers)."""

    def as_sql(self, compiler, connection):
        table = self._alias(compiler)
        cols = ", ".join(f"{table}.{connection.ops.quote_name(c)}" for c in SEARCH_COLUMNS)
        words = " ".join([*self.query.words, *self.query.phrases])
        sql, params = f"{PG_FUNCTION}({cols}) @@ plainto_tsquery('simple', %s)", [words]
        if self.query.phrases and self.phrases:
            phrases_sql, phrases_params = _PgPhrases(self.query).as_sql(compiler, connection)
            sql, params = f"{sql} AND {phrases_sql}", [*params, *phrases_params]
        return sql, params


class _AnyOf(_OnTable):
    """`<column> = ANY(<one bigint[] parameter>)` on the query's own table: thousands of ids as one parameter (an
    IN list of 8,192 placeholders cost 0.1 s in the driver alone, each time)."""

    def __init__(self, column: str, ids: list[int]):
        super().__init__()
        self.column = column
        self.ids = ids

    def as_sql(self, compiler, connection):
        column = f"{self._alias(compiler)}.{connection.ops.quote_name(self.column)}"
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s::bigint[])", [self.ids]
        return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(self.ids)]


class _PgPhrases(_SpanCondition):
    """The phrases' regexes alone, on spans already known to hold their words (_walk_weeks)."""

    def as_sql(self, compiler, connection):
        table = self._alias(compiler)
        raw = " || ' ' || ".join(f"{table}.{connection.ops.quote_name(c)}::text" for c in RAW_COLUMNS)
        return " AND ".join(f"({raw}) ~* %s" for _ in self.query.phrases), [
            _pg_phrase_regex(p) for p in self.query.phrases
        ]


class _FtsRowMatch(_SpanCondition):
    """SQLite: this span's row matches (FTS5 looks the rowid up in each term's list: no scan)."""

    def as_sql(self, compiler, connection):
        sql = f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid = {self._alias(compiler)}.id)"
        return sql, [_fts5_match(self.query)]


def _fts_many(match: str, limit: int | None = None) -> bool:
    """More than `limit` (FTS_SET_LIMIT) spans match (reads at most that many rowids)."""
    limit = FTS_SET_LIMIT if limit is None else limit
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s LIMIT %s)",
            [match, limit + 1],
        )
        return cursor.fetchone()[0] > limit


@dataclass(frozen=True)
class _Matching:
    spans: QuerySet[Span]  # the matching spans
    words: QuerySet[Span]  # the spans holding every word (phrases unchecked: what the index alone answers)
    phrases: QuerySet[Span] | None  # PostgreSQL: the spans holding the phrases (their regex, no index)
    how: str  # "set": collect them; "rows": check the newest traces' spans one by one; "walk": windows (PostgreSQL)
    estimate: float = 0.0  # PostgreSQL: the planner's estimate of the spans holding every word


def _matching(project: Project, query: Query, include_internal: bool) -> _Matching:
    """The matching spans and how best to find the newest traces holding one.

    A rare term's matches are collected once as a set (SQLite: the rowids FTS5 gives, up to FTS_SET_LIMIT of
    them; PostgreSQL: a bitmap scan of the GIN index, when the planner expects at most PG_WALK_FROM spans); a
    very common one's are checked span by span while the newest traces are walked, which stops at the first page.
    PostgreSQL in between: the newest traces are walked in windows, each window's matches found by the GIN index
    and the span_trace index together (traces_newest). Left to itself, PostgreSQL's planner walked the traces for
    mid-frequency words, computing the tsvector of every span on the way (1.5 s at 1,000,000 spans)."""
    spans = Span.objects.filter(project=project)
    if not include_internal:
        spans = spans.filter(is_internal=False)
    if query.empty:
        return _Matching(spans.none(), spans.none(), None, "set")
    if connection.vendor == "postgresql":
        words = spans.filter(_PgMatch(query, phrases=False))
        estimate = _pg_estimate(words)
        if estimate <= PG_WALK_FROM:
            how = "set"
        elif estimate >= PG_ROWS_SHARE * _pg_estimate(spans):
            how = "rows"
        else:
            how = "walk"
        if not query.phrases:
            return _Matching(words, words, None, how, estimate)
        return _Matching(spans.filter(_PgMatch(query)), words, spans.filter(_PgPhrases(query)), how, estimate)
    match = _fts5_match(query)
    if _fts_many(match):
        spans = spans.filter(_FtsRowMatch(query))
        return _Matching(spans, spans, None, "rows")
    ids = RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match])
    spans = spans.filter(id__in=ids)
    return _Matching(spans, spans, None, "set")


def _pg_estimate(spans: QuerySet[Span]) -> float:
    """The planner's estimate of the rows (EXPLAIN: planning only, the GIN index's statistics)."""
    sql, params = spans.values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"])


def spans_matching(*, project: Project, q: str | Query, include_internal: bool = False) -> QuerySet[Span]:
    """The project's spans that match `q` (none for a query without a word)."""
    return _matching(project, q if isinstance(q, Query) else parse(q), include_internal).spans


def _traces_holding(qs: QuerySet[Trace], m: _Matching) -> QuerySet[Trace]:
    if m.how == "rows" or (m.how == "walk" and m.estimate > PG_SET_LIMIT):
        # Spans start no earlier than their trace: PostgreSQL skips the older partitions.
        return qs.filter(Exists(m.spans.filter(trace_id=OuterRef("pk"), start_time__gte=OuterRef("start_time"))))
    if connection.vendor == "postgresql":
        # The matching traces first (a bitmap scan of the GIN index), then the page among them: as a subquery the
        # planner hashed every trace of the project (0.35 s for a word in 236 spans of 1,000,000).
        return qs.filter(_AnyOf("id", list(m.spans.order_by().values_list("trace_id", flat=True).distinct())))
    return qs.filter(pk__in=m.spans.values("trace_id"))


def traces_matching(qs: QuerySet[Trace], *, project: Project, q: str, include_internal: bool = False):
    """`qs` narrowed to the traces with at least one matching span (traces.selectors.traces_filtered)."""
    return _traces_holding(qs, _matching(project, parse(q), include_internal))


def traces_newest(
    qs: QuerySet[Trace], *, project: Project, q: str, need: int, include_internal: bool = False
) -> QuerySet[Trace]:
    """`qs` narrowed to traces with a matching span, of which the newest `need` (start time, pk descending) are
    exactly those traces_matching would give: what the list's page and its bounded count read. A word neither
    rare nor very common (PostgreSQL) is found by walking `qs` newest first rather than collecting every match
    ("timeout retry": 19,000 traces, 23,000 heap pages read): the walk stops at `need` (_walk)."""
    return _newest(qs, _matching(project, parse(q), include_internal), need)


def _newest(qs: QuerySet[Trace], m: _Matching, need: int) -> QuerySet[Trace]:
    if m.how != "walk":
        return _traces_holding(qs, m)
    return qs.filter(_AnyOf("id", _walk(qs, m, need)))


def count_newest(qs: QuerySet[Trace], *, project: Project, q: str, bound: int, include_internal: bool = False) -> int:
    """How many traces of `qs` hold a match, counted to `bound` + 1 at most (traces.selectors.traces_count)."""
    query = parse(q)
    m = _matching(project, query, include_internal)
    if connection.vendor == "sqlite" and m.how == "rows" and not _fts_many(_fts5_match(query), FTS_COUNT_WALK_FROM):
        return _fts_count(qs, m, query, bound)
    return _newest(qs, m, bound + 1).order_by("-start_time", "-pk")[: bound + 1].count()


FTS_COUNT_CHUNK = 1_000  # matching spans read at a time by _fts_count
# SQLite: past this many matching spans (a word in one span of ten), the newest traces hold one almost at once:
# walking them beats reading FTS5's doclist backwards (0.18 s for "the" at 1,000,000 spans).
FTS_COUNT_WALK_FROM = 100_000


def _fts_count(qs: QuerySet[Trace], m: _Matching, query: Query, bound: int) -> int:
    """SQLite, a word in FTS_SET_LIMIT to FTS_COUNT_WALK_FROM spans: FTS5 gives the matching rowids newest first (its own order, no sort); their traces
    are taken a chunk at a time and counted among `qs` (every other filter) until past `bound`. Walking the
    traces and asking FTS5 about each of their spans instead read ~27,000 rowids for "timeout retry" (0.4 s)."""
    seen: set[int] = set()
    counted = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s ORDER BY rowid DESC", [_fts5_match(query)]
        )
        while counted <= bound:
            rowids = [row[0] for row in cursor.fetchmany(FTS_COUNT_CHUNK)]
            if not rowids:
                break
            traces = set(m.spans.filter(id__in=rowids).values_list("trace_id", flat=True)) - seen
            seen |= traces
            if traces:
                counted += qs.filter(pk__in=traces).count()
    return counted


WALK_FIRST = 256  # traces in the walk's first window (at least 4 x `need`)
WALK_WINDOWS_UPTO = 8_192  # traces walked in windows, at most; past them, week by week


def next_window(*, need: int, found: int, walked: int, last: int) -> int:
    """The size of the walk's next window: enough for the matches still missing at the rate found so far (a
    quarter more), never less than the last window nor more than 8 times it (8 times when nothing was found yet);
    0 when that would walk past WALK_WINDOWS_UPTO traces (then the walk goes week by week). Pure."""
    if walked == 0:
        return min(max(WALK_FIRST, 4 * need), WALK_WINDOWS_UPTO)
    wanted = 8 * last if found == 0 else math.ceil((need - found) * walked / found * 1.25)
    wanted = min(max(wanted, last), 8 * last)
    return 0 if walked + wanted > WALK_WINDOWS_UPTO else wanted


def _older(newest: QuerySet[Trace], last: tuple[int, object] | None) -> QuerySet[Trace]:
    """The traces after `last` (pk, start_time) in the newest-first order."""
    if last is None:
        return newest
    return newest.filter(Q(start_time__lt=last[1]) | Q(start_time=last[1], pk__lt=last[0]))


def _walk(qs: QuerySet[Trace], m: _Matching, need: int) -> list[int]:
    """The pks of `qs`'s newest `need` traces holding a span of `m.spans` (fewer when there are not so many), newest
    first. Spans start no earlier than their trace (which lets both steps skip older partitions).

    1. Windows of the newest traces (up to WALK_WINDOWS_UPTO of them, next_window): a window's traces from the trace_list
       index, then its matching spans by a BitmapAnd of the GIN index (the words) and span_trace (the window's
       traces), whose few rows alone are read; a phrase's regex runs on those. Left to itself, the planner read
       the window's spans through span_trace and computed each one's tsvector (370 ms for 300 traces): index
       scans are off for that query.
    2. Then, when matches are too sparse for that, week by week (the span partitions), newest first: every
       matching span of the week, as a set (a window of thousands of traces read its whole partition's matches
       anyway, once per window)."""
    newest = qs.order_by("-start_time", "-pk")
    found: list[int] = []
    walked, window, last = 0, 0, None  # last: (pk, start_time) of the oldest trace walked
    while len(found) < need:
        window = next_window(need=need, found=len(found), walked=walked, last=window)
        if not window:
            break
        pks = list(_older(newest, last).values_list("pk", flat=True)[:window])  # no timestamps: 0.1 s for 8,192
        if not pks:
            return found
        last = (pks[-1], Trace.objects.values_list("start_time", flat=True).get(pk=pks[-1]))
        window_spans = m.spans.filter(_AnyOf("trace_id", pks), start_time__gte=partition_bounds(last[1])[0])
        with planner(enable_indexscan="off"):
            matched = set(window_spans.order_by().values_list("trace_id", flat=True).distinct())
        found += [pk for pk in pks if pk in matched]
        walked += len(pks)
        if len(pks) < window:
            return found
    if len(found) < need:
        found += _walk_weeks(_older(newest, last), m, need - len(found))
    return found[:need]


def _walk_weeks(newest: QuerySet[Trace], m: _Matching, need: int) -> list[int]:
    """_walk's second step: the traces of `newest` (newest first) holding a span of `m`, `need` at most, read
    one week, then two, four... (a rare word is not read week by week over a year). The spans holding the words
    come from the index alone; a phrase is then checked on the spans of the
    newest of their traces only, a few more than are missing at a time (the regex over 3,000 spans' text, every
    JSON column made text, took 40 ms)."""
    found: list[int] = []
    holding: dict[int, list[int]] = {}  # {trace pk: its spans holding the words}, of the weeks read so far
    upto, weeks = None, 1  # the weeks from `upto` on are read; the next read takes `weeks` more, doubling
    while len(found) < need:
        start = newest.values_list("start_time", flat=True).first()
        if start is None:
            break
        lo = partition_bounds(start)[0] - timedelta(days=PARTITION_DAYS * (weeks - 1))
        week = (
            m.words.filter(start_time__gte=lo)
            if upto is None
            else m.words.filter(start_time__gte=lo, start_time__lt=upto)
        )
        for trace_pk, pk in week.order_by().values_list("trace_id", "id"):
            holding.setdefault(trace_pk, []).append(pk)
        decided = newest.filter(_AnyOf("id", sorted(holding)), start_time__gte=lo)  # every span of theirs is read
        found += _checked(list(decided.values_list("pk", flat=True)), holding, m, need - len(found))
        newest, upto, weeks = newest.filter(start_time__lt=lo), lo, 2 * weeks
    return found


def _checked(candidates: list[int], holding: dict[int, list[int]], m: _Matching, need: int) -> list[int]:
    """The first `need` of `candidates` (trace pks, in order) whose spans in `holding` match `m` (its phrases)."""
    if m.phrases is None:  # words only: holding them is matching
        return list(candidates[:need])
    found: list[int] = []
    at = 0
    while len(found) < need:
        chunk = candidates[at : at + 2 * (need - len(found))]
        if not chunk:
            break
        span_ids = [pk for trace_pk in chunk for pk in holding[trace_pk]]
        matched = set(m.phrases.filter(_AnyOf("id", span_ids)).order_by().values_list("trace_id", flat=True))
        found += [pk for pk in chunk if pk in matched][: need - len(found)]
        at += len(chunk)
    return found


# PostgreSQL settings for the search's queries: no JIT (compiling took longer than the queries) and no parallel
# workers (starting two cost more than the few rows a page reads).
SEARCH_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0"}


@contextmanager
def planner(**settings: str) -> Iterator[None]:
    """PostgreSQL planner settings for the queries run inside (SEARCH_SETTINGS when none are given), then the
    previous values again; in a transaction (a savepoint inside one), so an error reverts them too. No-op on
    SQLite."""
    if connection.vendor != "postgresql":
        yield
        return
    settings = settings or SEARCH_SETTINGS
    with transaction.atomic(), connection.cursor() as cursor:
        names = list(settings)
        cursor.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), names)
        before = dict(zip(names, cursor.fetchone(), strict=True))
        _set_local(cursor, settings)
        yield
        _set_local(cursor, before)


def _set_local(cursor, settings: dict[str, str]) -> None:
    sql = "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings)
    cursor.execute(sql, [v for item in settings.items() for v in item])


# --- Snippets for the rows shown ---


def _patterns(query: Query) -> list[re.Pattern]:
    """Phrases first (a phrase is the better snippet), then words; whole words, case-insensitive."""
    out = []
    for text in (*query.phrases, *query.words):
        tokens = _TOKEN.findall(text)
        if tokens:
            body = r"[\W_]+".join(re.escape(t) for t in tokens)
            out.append(re.compile(rf"(?<![^\W_]){body}(?![^\W_])", re.IGNORECASE))
    return out


def _strings(value) -> list[str]:
    """The string values of a JSON value (messages, documents, attributes), in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _field_text(span: dict, column: str) -> str:
    value = span.get(column)
    if column == "attributes":
        return "\n".join(s for s in _strings(value) if len(s) < METADATA_VALUE_CHARS)
    if isinstance(value, (list, dict)):
        return "\n".join(_strings(value))
    return value or ""


def snippet(text: str, patterns: list[re.Pattern]) -> SafeString | None:
    """A window of `text` around the first match of the first pattern that matches, every match in it marked;
    None when nothing matches. Pure: tested without a database."""
    first = None
    for pattern in patterns:
        first = pattern.search(text)
        if first:
            break
    if first is None:
        return None
    lo = max(0, first.start() - SNIPPET_BEFORE)
    hi = min(len(text), first.end() + SNIPPET_AFTER)
    # Do not cut a word in two at either end.
    while lo > 0 and not text[lo - 1].isspace() and first.start() - lo < SNIPPET_BEFORE + 20:
        lo -= 1
    window = text[lo:hi]
    spans = sorted({(m.start(), m.end()) for p in patterns for m in p.finditer(window)})
    out, at = [], 0
    for start, end in spans:
        if start < at:
            continue  # overlaps a match already marked
        out.append(escape(window[at:start]))
        out.append(f"<mark>{escape(window[start:end])}</mark>")
        at = end
    out.append(escape(window[at:]))
    body = " ".join("".join(out).split())
    return mark_safe(("… " if lo > 0 else "") + body + (" …" if hi < len(text) else ""))  # noqa: S308 (escaped)


def _texts(span: dict) -> list[tuple[str, str]]:
    """(column, text) of the span's non-empty fields, in SNIPPET_ORDER."""
    return [(column, text) for column in SNIPPET_ORDER if (text := _field_text(span, column))]


def _hit(span: dict, patterns: list[re.Pattern], texts: list[tuple[str, str]] | None = None) -> Hit:
    texts = _texts(span) if texts is None else texts
    for column, text in texts:
        found = snippet(text, patterns)
        if found is not None:
            return Hit(span["span_id"], span["name"], FIELD_LABELS[column], found)
    # The database matched a token our patterns do not see (an e-mail address, a URL): show the start.
    for column, text in texts:
        if text:
            cut = text[: SNIPPET_BEFORE + SNIPPET_AFTER]
            return Hit(span["span_id"], span["name"], FIELD_LABELS[column], escape(" ".join(cut.split())))
    return Hit(span["span_id"], span["name"], "name", escape(span["name"]))


def _needles(query: Query) -> list[str]:
    """The first token of each of _patterns(query), lowercased: a substring test before the regex."""
    return [_tokens(t)[0].lower() for t in (*query.phrases, *query.words) if _tokens(t)]


def span_matches(texts: list[tuple[str, str]], patterns: list[re.Pattern], needles: list[str]) -> bool:
    """Every word and phrase occurs in the span's texts (a phrase within one field). Pure."""
    lowered = [text.lower() for _, text in texts]
    return all(
        any(needle in low and pattern.search(text) for (_, text), low in zip(texts, lowered, strict=True))
        for pattern, needle in zip(patterns, needles, strict=True)
    )


READ_SPANS = 2_000  # spans of the page's traces read for snippets, at most
READ_PER_TRACE = 40  # spans of one trace read before asking the index which of its spans match


def hits(
    project: Project, q: str, trace_pks: list[int], *, include_internal: bool = False, per_trace: int = HITS_PER_TRACE
) -> dict[int, list[Hit]]:
    """{trace pk: [Hit]} for the traces shown (a page): the first `per_trace` matching spans of each by start time.

    The page's spans are matched here, in Python, with the snippet's own patterns (the index is not asked to
    re-check a few hundred rows, which on PostgreSQL would compute each one's tsvector again); only a trace with
    more spans than READ_PER_TRACE and no match among its first ones asks the index."""
    query = parse(q)
    if not trace_pks or query.empty:
        return {}
    patterns, needles = _patterns(query), _needles(query)
    spans = Span.objects.filter(project=project, trace_id__in=trace_pks)
    if not include_internal:
        spans = spans.filter(is_internal=False)
    per = max(READ_PER_TRACE, READ_SPANS // len(trace_pks))
    columns = ("trace_id", "span_id", *SEARCH_COLUMNS)
    order = ("trace_id", "start_time", "id")
    counts = dict(Trace.objects.filter(pk__in=trace_pks).values_list("pk", "span_count"))
    if sum(counts.values()) <= READ_SPANS:  # the usual page: every span of its traces, in one query
        rows, unread = spans.order_by(*order).values(*columns), []
    else:  # ids first, then the first `per` spans of each trace
        ids: dict[int, list[int]] = {}
        for trace_pk, pk in spans.order_by(*order).values_list("trace_id", "id"):
            ids.setdefault(trace_pk, []).append(pk)
        rows = Span.objects.filter(id__in=[pk for pks in ids.values() for pk in pks[:per]]).order_by(*order)
        rows = rows.values(*columns)
        unread = [pk for pk, pks in ids.items() if len(pks) > per]
    out: dict[int, list[Hit]] = {}
    for span in rows:
        found = out.setdefault(span["trace_id"], [])
        if len(found) < per_trace:
            texts = _texts(span)
            if span_matches(texts, patterns, needles):
                found.append(_hit(span, patterns, texts))
    unread = [pk for pk in unread if not out.get(pk)]
    if unread:  # long traces whose first spans did not match: the index says which did
        matching = spans_matching(project=project, q=query, include_internal=include_internal)
        firsts: dict[int, list[int]] = {}
        for trace_pk, pk in (
            matching.filter(trace_id__in=unread).order_by("start_time", "id").values_list("trace_id", "id")
        ):
            if len(firsts.setdefault(trace_pk, [])) < per_trace:
                firsts[trace_pk].append(pk)
        wanted = [pk for pks in firsts.values() for pk in pks]
        for span in Span.objects.filter(id__in=wanted).order_by("trace_id", "start_time", "id").values(*columns):
            out.setdefault(span["trace_id"], []).append(_hit(span, patterns))
    return {pk: found for pk, found in out.items() if found}
