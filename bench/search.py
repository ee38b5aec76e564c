"""Search benchmark (traces.search): p50/p95 of the trace list's search at 1,000,000 spans, on PostgreSQL and SQLite.

    .venv/bin/python bench/search.py                 # 1,000,000 spans, both databases
    .venv/bin/python bench/search.py --quick         # 30,000 spans, a smoke run
    .venv/bin/python bench/search.py --db postgres   # or sqlite; --spans N to choose the size
    .venv/bin/python bench/search.py --trigram       # PostgreSQL: also build a pg_trgm index on the same text and
                                                     # time ILIKE '%word%' with it (the alternative weighed)
    .venv/bin/python bench/search.py --db postgres --queries-only   # the queries again on the last PostgreSQL data

Per database: a fresh bench database (bench/_env.py: `peekr_bench_search` on PostgreSQL, a temporary data
directory for SQLite), migrated. Then:

1. Ingest overhead: batches of 512 spans through the real ingest service (traces.services.spans_ingest,
   in-process: normalisation, the bulk upsert, the aggregates), alternately with the search index and without it
   (PostgreSQL: DROP INDEX span_search; SQLite: the three triggers dropped), three rounds each; spans/s and the
   % change.
2. Load: N spans of six-span agent traces (a chain root with question and answer, a retriever with three
   documents, two chat calls with messages, a tool call with JSON arguments and a result, a final chat) spread over
   the last 28 days (weekly partitions on PostgreSQL), written by COPY (PostgreSQL) or executemany (SQLite), not
   HTTP; 2 % of them in a second project. The words follow a Zipf law over a 6,000-word vocabulary; "umbrella"
   is in 1 span out of 5,000 and the phrase "rate limit exceeded" in 1 out of 200. The search index is built after
   the load (time and size per span reported).
3. Queries, as the trace list runs them: traces.selectors.trace_page(limit=50) with TraceFilters(search=q), then
   traces.search.hits() for those 50 rows (the snippets), then traces.selectors.traces_count(bound=
   SEARCH_COUNT_BOUND) (the total, "500+"). p50/p95 over the repetitions, warm, of each part and of the page (all
   three: the target, p95 < 300 ms, is on that).

It prints figures, never asserts on them (but checks that no trace of the second project is ever returned).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._env import SQLITE, database_version, prepare  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_search"
DEFAULT_BROKER_URL = os.environ.get("PEEKR_BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")
SPANS_PER_TRACE = 6
TARGET_P95_MS = 300
QUERIES = {
    "word": "timeout retry",
    "phrase": '"rate limit exceeded"',
    "rare word": "umbrella",
    "common word": "the",
    "no match": "zeppelin",
}
RARE_EVERY = 5_000
PHRASE_EVERY = 200

# --- Content -------------------------------------------------------------------------------------------------------

COMMON_TEXT = (
    "the a of to and in for is on that with as it be by this are or from at your you can we an not have will "
    "sync note notes export import workspace account team plan storage device share link password token api "
    "request limit minute attachment search index offline edit conflict copy trash restore settings security admin "
    "member owner invite email download upload file folder tag filter page result version release migration "
    "customer support answer question document section example error timeout retry latency queue worker server "
    "client database cache policy region quota billing invoice seat user session message reply summary context "
    "prompt model response feature update mobile desktop rate exceeded"
)
COMMON = COMMON_TEXT.split()
SYLLABLES = "ka lo mi ne ru ta shi vo da fe gi ho ju ke la mo ni pa qui re so tu ve wa xi yo ze".split()  # noqa: SIM905


def vocabulary(rng: random.Random, size: int = 6_000) -> tuple[list[str], list[float]]:
    words = list(COMMON)
    seen = set(words) | {"umbrella", "zeppelin"}
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    weights = [1 / (rank + 1) ** 1.07 for rank in range(len(words))]
    return words, weights


class Writer:
    """Sentences drawn from a Zipf vocabulary, pooled (a million spans are made in seconds)."""

    def __init__(self, seed: int = 1, pool: int = 20_000):
        rng = random.Random(seed)
        words, weights = vocabulary(rng)
        self.rng = rng
        self.sentences = []
        for _ in range(pool):
            picked = rng.choices(words, weights, k=rng.randint(6, 22))
            self.sentences.append(picked[0].capitalize() + " " + " ".join(picked[1:]) + ".")

    def text(self, chars: int) -> str:
        out, size = [], 0
        while size < chars:
            s = self.rng.choice(self.sentences)
            out.append(s)
            size += len(s) + 1
        return " ".join(out)

    def plant(self, text: str, words: str) -> str:
        at = self.rng.randint(0, len(text))
        while at < len(text) and text[at] != " ":
            at += 1
        return f"{text[:at]} {words}{text[at:]}"


def msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def agent_trace(w: Writer, n: int) -> list[dict]:
    """Six spans' content fields (as Span columns), n = the trace's number (what is planted where)."""
    question = w.text(80) + "?"
    answer = w.text(300)
    docs = [{"id": f"kb-{w.rng.randint(100, 999)}", "content": w.text(350), "score": 0.8} for _ in range(3)]
    result = w.text(400)
    args = json.dumps({"query": question[:40], "limit": 3})
    system = "Answer from the documentation excerpts below. " + " ".join(d["content"][:200] for d in docs)
    spans = [
        {"name": "rag.answer", "kind": "chain", "input_text": question, "output_text": answer},
        {"name": "retrieve", "kind": "retriever", "input_text": question, "documents": docs},
        {
            "name": "chat gpt-4o-mini",
            "kind": "llm",
            "model": "gpt-4o-mini",
            "input_messages": [
                msg("system", "Rewrite the question for a documentation search."),
                msg("user", question),
            ],
            "output_messages": [msg("assistant", question)],
        },  # fmt: skip
        {
            "name": "chat gpt-4o-mini",
            "kind": "llm",
            "model": "gpt-4o-mini",
            "input_messages": [msg("system", system), msg("user", question)],
            "output_messages": [{"role": "assistant", "tool_calls": [{"name": "search_docs", "arguments": args}]}],
        },  # fmt: skip
        {
            "name": "execute_tool search_docs",
            "kind": "tool",
            "tool_name": "search_docs",
            "tool_arguments": args,
            "tool_result": result,
        },  # fmt: skip
        {
            "name": "chat gpt-4o-mini",
            "kind": "llm",
            "model": "gpt-4o-mini",
            "input_messages": [msg("system", system), msg("user", question), msg("tool", result)],
            "output_messages": [msg("assistant", answer)],
        },  # fmt: skip
    ]
    for i, span in enumerate(spans):
        k = n * SPANS_PER_TRACE + i
        if k % RARE_EVERY == 7:
            if span.get("tool_result"):
                span["tool_result"] = w.plant(span["tool_result"], "umbrella")
            elif span.get("input_messages"):
                span["input_messages"][-1]["content"] = w.plant(span["input_messages"][-1]["content"], "umbrella")
            else:
                span["input_text"] = w.plant(span.get("input_text", ""), "umbrella")
        if k % PHRASE_EVERY == 3:
            span["error"] = "RateLimitError: rate limit exceeded for gpt-4o-mini, retry in 20 s"
            span["status"] = "error"
    return spans


# --- Load ----------------------------------------------------------------------------------------------------------


def _rows(project_id: int, trace_pk: int, trace_id: str, start: datetime, spans: list[dict], next_id: int):
    out = []
    root_span = f"{trace_pk:016x}"
    for i, span in enumerate(spans):
        at = start + timedelta(milliseconds=40 * i)
        out.append(
            {
                "id": next_id + i,
                "project_id": project_id,
                "trace_id": trace_pk,
                "span_id": root_span if i == 0 else f"{trace_pk:012x}{i:04x}",
                "parent_span_id": "" if i == 0 else root_span,
                "start_time": at,
                "end_time": at + timedelta(milliseconds=35),
                "duration_ms": 35.0,
                **span,
            }
        )
    return out


def _sqlite(value):
    """A datetime as Django stores it in SQLite (naive UTC text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return value


def bulk_load(*, n_spans: int, project, other, writer: Writer, days: int = 28) -> float:
    """N spans in traces of six (2 % in `other`), COPY / executemany; returns seconds."""
    from django.db import connection, transaction

    from traces.models import Span, Trace
    from traces.services import dump_json

    t0 = time.perf_counter()
    now = datetime.now(UTC)
    n_traces = n_spans // SPANS_PER_TRACE
    trace_fields = [f for f in Trace._meta.concrete_fields]
    span_fields = [f for f in Span._meta.concrete_fields]
    span_json = {f.attname for f in span_fields if f.get_internal_type() == "JSONField"}
    trace_json = {f.attname for f in trace_fields if f.get_internal_type() == "JSONField"}
    span_defaults = {f.attname: f.get_default() for f in span_fields}
    trace_defaults = {f.attname: f.get_default() for f in trace_fields}
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM traces_trace")
        trace_base = cursor.fetchone()[0] + 1
        cursor.execute("SELECT coalesce(max(id), 0) FROM traces_span")
        span_base = cursor.fetchone()[0] + 1
    pg = connection.vendor == "postgresql"

    def values(row, fields, defaults, json_fields):
        row = {**defaults, **row}
        return [dump_json(row[f.attname]) if f.attname in json_fields else row[f.attname] for f in fields]

    def batches(size=20_000):
        traces, spans = [], []
        for n in range(n_traces):
            pk = trace_base + n
            project_id = other.pk if n % 50 == 49 else project.pk
            start = now - timedelta(seconds=days * 86400 * (1 - n / n_traces)) - timedelta(minutes=5)
            content = agent_trace(writer, n)
            trace_id = f"{pk:032x}"
            traces.append(
                {
                    "id": pk,
                    "project_id": project_id,
                    "trace_id": trace_id,
                    "name": "rag.answer",
                    "root_span_id": f"{pk:016x}",
                    "start_time": start,
                    "end_time": start + timedelta(seconds=1),
                    "duration_ms": 1000.0,
                    "span_count": SPANS_PER_TRACE,
                    "status": "ok",
                    "root_ended": True,
                    "completed_at": start,
                    "input_preview": content[0]["input_text"][:300],
                    "output_preview": content[0]["output_text"][:300],
                    "last_span_at": start,
                }  # fmt: skip
            )
            spans += _rows(project_id, pk, trace_id, start, content, span_base + n * SPANS_PER_TRACE)
            if len(spans) >= size:
                yield traces, spans
                traces, spans = [], []
        if traces:
            yield traces, spans

    quote = connection.ops.quote_name
    for traces, spans in batches():
        with transaction.atomic(), connection.cursor() as cursor:
            for table, fields, rows, defaults, json_fields in (
                ("traces_trace", trace_fields, traces, trace_defaults, trace_json),
                ("traces_span", span_fields, spans, span_defaults, span_json),
            ):
                cols = ", ".join(quote(f.column) for f in fields)
                if pg:
                    with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(values(row, fields, defaults, json_fields))
                else:
                    marks = ", ".join("?" for _ in fields)
                    cursor.cursor.executemany(
                        f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                        [[_sqlite(v) for v in values(r, fields, defaults, json_fields)] for r in rows],
                    )
    with connection.cursor() as cursor:
        if pg:
            for table in ("traces_trace", "traces_span"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return time.perf_counter() - t0


# --- The index, on and off ------------------------------------------------------------------------------------------

_MIGRATION = importlib.import_module("traces.migrations.0016_search")


def index_drop() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS span_search")
        else:
            for sql in _MIGRATION.SQLITE_BACKWARDS[:3]:
                cursor.execute(sql)


def index_create(*, rebuild_fts: bool = False) -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '256MB'")
            cursor.execute(_MIGRATION.PG_FORWARDS[-1])
            cursor.execute("ANALYZE traces_span")
            cursor.execute("ANALYZE traces_trace")
        else:
            create, fill, *triggers = _MIGRATION.sqlite_forwards_sql()
            if rebuild_fts:
                cursor.execute("INSERT INTO traces_span_search (traces_span_search) VALUES ('delete-all')")
                cursor.execute(fill)
                cursor.execute("INSERT INTO traces_span_search (traces_span_search) VALUES ('optimize')")
            for sql in triggers:
                cursor.execute(sql)
            cursor.execute("ANALYZE")
    return time.perf_counter() - t0


def index_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT coalesce(sum(pg_relation_size(relid)), 0) FROM pg_partition_tree('span_search')")
            return int(cursor.fetchone()[0])
        try:
            cursor.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'traces_span_search%'")
            return int(cursor.fetchone()[0] or 0)
        except Exception:  # dbstat not compiled in
            return -1


def index_cost_us(n: int = 5_000) -> float:
    """Microseconds per span to compute and index the search text of n stored spans, into an empty index of the
    same kind (PostgreSQL: a GIN index on a temporary tsvector table; SQLite: a temporary contentless FTS5 table):
    what the index adds to each span's ingest, measured without the noise of the rest of the ingest path."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE TEMP TABLE search_cost (v tsvector) ON COMMIT DROP")
            cursor.execute("CREATE INDEX ON search_cost USING gin (v)")
            cols = ", ".join(_MIGRATION.COLUMNS.split(", "))
            sql = f"INSERT INTO search_cost SELECT peekr_span_search({cols}) FROM traces_span LIMIT {n}"
        else:
            cursor.execute("CREATE VIRTUAL TABLE temp.search_cost USING fts5(body, content='', columnsize=0)")
            text = _MIGRATION._sqlite_text("traces_span")
            sql = f"INSERT INTO temp.search_cost (rowid, body) SELECT id, {text} FROM traces_span LIMIT {n}"
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM traces_span LIMIT {n}) s")  # warm the pages
        t0 = time.perf_counter()
        cursor.execute(sql)
        elapsed = time.perf_counter() - t0
        if connection.vendor != "postgresql":
            cursor.execute("DROP TABLE temp.search_cost")
    return elapsed / n * 1e6


# --- Ingest overhead -----------------------------------------------------------------------------------------------


def raw_batch(writer: Writer, n_traces: int):
    """RawSpans of n_traces six-span traces in the conventions the normalisers read (OTel GenAI, OpenInference)."""
    from traces.normalize.types import RawSpan

    out = []
    base = time.time_ns() - 3_600 * 10**9
    for n in range(n_traces):
        trace_id = os.urandom(16).hex()
        root_id = os.urandom(8).hex()
        c = agent_trace(writer, n)
        docs = {}
        for i, d in enumerate(c[1]["documents"]):
            docs[f"retrieval.documents.{i}.document.id"] = d["id"]
            docs[f"retrieval.documents.{i}.document.content"] = d["content"]
        attrs = [
            {
                "openinference.span.kind": "CHAIN",
                "input.value": c[0]["input_text"],
                "output.value": c[0]["output_text"],
                "session.id": f"s-{n % 97}",
                "user.id": f"u-{n % 500}",
            },  # fmt: skip
            {"openinference.span.kind": "RETRIEVER", "input.value": c[1]["input_text"], **docs},
        ]
        for span in (c[2], c[3], c[5]):
            attrs.append(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 300,
                    "gen_ai.usage.output_tokens": 80,
                    "gen_ai.input.messages": json.dumps(span["input_messages"]),
                    "gen_ai.output.messages": json.dumps(span["output_messages"]),
                }  # fmt: skip
            )
        attrs.insert(
            4,
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "search_docs",
                "gen_ai.tool.call.id": "c1",
                "gen_ai.tool.call.arguments": c[4]["tool_arguments"],
                "gen_ai.tool.call.result": c[4]["tool_result"],
            },  # fmt: skip
        )
        names = [s["name"] for s in c]
        for i in range(SPANS_PER_TRACE):
            start = base + n * 10**9 + i * 40_000_000
            out.append(
                RawSpan(
                    trace_id=trace_id,
                    span_id=root_id if i == 0 else os.urandom(8).hex(),
                    parent_span_id=None if i == 0 else root_id,
                    name=names[i],
                    start_ns=start,
                    end_ns=start + 35_000_000,
                    attributes=attrs[i],
                    resource={"service.name": "bench-search"},
                )
            )
    return out


def ingest_overhead(project, writer: Writer, *, batches: int, rounds: int = 3) -> dict:
    from traces.services import spans_ingest

    per_batch = 512 // SPANS_PER_TRACE
    work = [raw_batch(writer, per_batch) for _ in range(batches * rounds * 2 + 1)]
    spans_ingest(project=project, raws=work[0])  # warm-up: caches, first partitions, imports
    rates = {"with index": [], "without": []}
    k = 1
    for r in range(rounds):
        for mode in ("with index", "without") if r % 2 == 0 else ("without", "with index"):
            if mode == "without":
                index_drop()
            t0 = time.perf_counter()
            n = 0
            for _ in range(batches):
                spans_ingest(project=project, raws=work[k])
                n += len(work[k])
                k += 1
            rates[mode].append(n / (time.perf_counter() - t0))
            if mode == "without":
                index_create(rebuild_fts=True)
    with_index = statistics.median(rates["with index"])
    without = statistics.median(rates["without"])
    return {"with": with_index, "without": without, "change": (with_index - without) / without * 100}


# --- Queries -------------------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_queries(project, other, reps: int) -> list[tuple]:
    from traces import search, selectors
    from traces.models import Trace
    from traces.selectors import TraceFilters, trace_page

    count = getattr(selectors, "traces_count", None)  # the list's total ("10,000+"), where the list shows one

    others = set(Trace.objects.filter(project=other).values_list("pk", flat=True))
    out = []
    for label, q in QUERIES.items():
        page_ms, total_ms, count_ms, page_total_ms, shown = [], [], [], [], 0
        for i in range(reps + 1):
            t0 = time.perf_counter()
            page = trace_page(project=project, filters=TraceFilters(search=q), limit=50)
            t1 = time.perf_counter()
            hits = search.hits(project, q, [t.pk for t in page.items])
            t2 = time.perf_counter()
            if count:
                count(project=project, filters=TraceFilters(search=q), bound=selectors.SEARCH_COUNT_BOUND)
            t3 = time.perf_counter()
            count_ms.append((t3 - t2) * 1000)
            if i == 0:  # warm-up
                assert not others & {t.pk for t in page.items}, "another project's trace matched"
                shown = len(page.items)
                with_hits = sum(1 for t in page.items if hits.get(t.pk))
                continue
            page_ms.append((t1 - t0) * 1000)
            total_ms.append((t2 - t0) * 1000)
            page_total_ms.append((t3 - t0) * 1000)
        out.append((label, q, shown, with_hits, page_ms, total_ms, count_ms, page_total_ms))
    return out


def trigram_compare(reps: int) -> None:
    """PostgreSQL: a pg_trgm GIN index on the same text, ILIKE '%word%' (the substring alternative)."""
    from django.db import connection

    expr = (
        "(name || ' ' || input_text || ' ' || output_text || ' ' || tool_arguments || ' ' || tool_result || ' ' || "
        "error || ' ' || input_messages::text || ' ' || output_messages::text || ' ' || documents::text)"
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        t0 = time.perf_counter()
        cursor.execute(f"CREATE INDEX span_search_trgm ON traces_span USING gin ({expr} gin_trgm_ops)")
        built = time.perf_counter() - t0
        cursor.execute("ANALYZE traces_span")
        cursor.execute("SELECT coalesce(sum(pg_relation_size(relid)), 0) FROM pg_partition_tree('span_search_trgm')")
        size = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM traces_span")
        spans = cursor.fetchone()[0]
        print(f"  pg_trgm index: built in {built:.1f} s, {size / 2**20:.0f} MiB, {size / spans:.0f} B/span")
        for word in ("umbrella", "timeout retry", "rate limit exceeded", "the"):
            times = []
            for _ in range(max(3, reps // 4)):
                t0 = time.perf_counter()
                cursor.execute(
                    f"SELECT t.id FROM traces_trace t WHERE t.id IN (SELECT trace_id FROM traces_span "
                    f"WHERE {expr} ILIKE %s) ORDER BY t.start_time DESC, t.id DESC LIMIT 50",
                    ["%" + word + "%"],
                )
                cursor.fetchall()
                times.append((time.perf_counter() - t0) * 1000)
            print(f"  pg_trgm ILIKE '%{word}%': p50 {pct(times, 50):.0f} ms, p95 {pct(times, 95):.0f} ms")
        cursor.execute("DROP INDEX span_search_trgm")


# --- Main ----------------------------------------------------------------------------------------------------------


def bench_one(database_url: str, *, n_spans: int, reps: int, overhead_batches: int, trigram: bool) -> None:
    bench = prepare(database_url=database_url, broker_url=DEFAULT_BROKER_URL, prefix="peekr-bench-search-")
    try:
        from django.db import connection

        from traces.services import project_create

        print(f"\n== {database_version()}: {n_spans:,} spans ==")
        project, _ = project_create(name="bench-search")
        other, _ = project_create(name="bench-search-other")
        writer = Writer()
        if connection.vendor == "postgresql":
            from traces.partitions import partitions_ensure

            now = datetime.now(UTC)
            partitions_ensure(now, start=now - timedelta(days=31))
        if overhead_batches:
            o = ingest_overhead(project, writer, batches=overhead_batches)
            print(
                f"ingest (in-process spans_ingest, 512-span batches): {o['with']:,.0f} spans/s with the search index, "
                f"{o['without']:,.0f} without: {o['change']:+.1f} %"
            )
        index_drop()
        loaded = bulk_load(n_spans=n_spans, project=project, other=other, writer=writer)
        print(f"load: {n_spans:,} spans in {loaded:.0f} s (COPY / executemany, index off)")
        built = index_create(rebuild_fts=True)
        size = index_bytes()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM traces_span")
            total_spans = cursor.fetchone()[0]
        per_span = f"{size / total_spans:.0f} B/span" if size >= 0 else "size n/a (no dbstat)"
        print(f"index: built in {built:.0f} s, {max(size, 0) / 2**20:.0f} MiB, {per_span} over {total_spans:,} spans")
        cost = index_cost_us()
        line = f"index cost per span ingested (tsvector/FTS text + index insert, 5,000 spans): {cost:.0f} us"
        if overhead_batches:
            line += f" = {cost / (1e6 / o['without']) * 100:.0f} % of a span's in-process ingest time without it"
        print(line)
        report_queries(project, other, reps)
        if trigram and connection.vendor == "postgresql":
            trigram_compare(reps)
    finally:
        from django.db import connections

        connections.close_all()
        bench.close()


def report_queries(project, other, reps: int) -> None:
    print(
        f"{'query':<12} {'q':<24} {'rows':>4} {'hits':>4} {'list p50':>9} {'p95':>6} {'+snippets p50':>14} {'p95':>6}"
        f" {'count p50':>10} {'p95':>6} {'page p50':>9} {'p95':>6}"
    )
    worst = 0.0
    for label, q, shown, with_hits, page_ms, total_ms, count_ms, page_total_ms in run_queries(project, other, reps):
        worst = max(worst, pct(page_total_ms, 95)) if label != "no match" else worst
        print(
            f"{label:<12} {q:<24} {shown:>4} {with_hits:>4} {pct(page_ms, 50):>7.0f}ms {pct(page_ms, 95):>4.0f}ms "
            f"{pct(total_ms, 50):>12.0f}ms {pct(total_ms, 95):>4.0f}ms {pct(count_ms, 50):>8.0f}ms "
            f"{pct(count_ms, 95):>4.0f}ms {pct(page_total_ms, 50):>7.0f}ms {pct(page_total_ms, 95):>4.0f}ms"
        )
    verdict = "met" if worst < TARGET_P95_MS else "MISSED"
    print(
        f"target p95 < {TARGET_P95_MS} ms (the page: list + snippets + count, word/phrase/rare/common): {verdict} "
        f"({worst:.0f} ms)"
    )


def queries_only(database_url: str, reps: int) -> None:
    """Run the queries again on the database a previous PostgreSQL run left (it is kept until the next run)."""
    import django

    os.environ.update(DJANGO_SETTINGS_MODULE="peekr_web.settings", PEEKR_DATABASE_URL=database_url)
    os.environ.setdefault("PEEKR_DATA_DIR", "/tmp/peekr-bench-search-queries")
    Path(os.environ["PEEKR_DATA_DIR"]).mkdir(exist_ok=True)
    django.setup()
    from traces.models import Project

    print(f"\n== {database_version()}: queries on the previous run's data ==")
    report_queries(Project.objects.get(name="bench-search"), Project.objects.get(name="bench-search-other"), reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30,000 spans, few repetitions")
    parser.add_argument("--spans", type=int, default=None)
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--trigram", action="store_true")
    parser.add_argument("--queries-only", action="store_true", help="PostgreSQL: reuse the last run's database")
    parser.add_argument("--database-url", default=os.environ.get("PEEKR_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()
    n_spans = args.spans or (30_000 if args.quick else 1_000_000)
    reps = args.reps or (5 if args.quick else 30)
    overhead = 2 if args.quick else 6
    print(f"bench/search.py: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    if args.queries_only:
        return queries_only(args.database_url, reps)
    # Each database in a process of its own (Django is set up once per process).
    if args.db == "both":
        import subprocess

        for db in ("postgres", "sqlite"):
            cmd = [sys.executable, __file__, "--db", db, "--spans", str(n_spans), "--reps", str(reps)]
            cmd += ["--trigram"] if args.trigram else []
            cmd += ["--quick"] if args.quick else []
            subprocess.run(cmd, check=True, env={**os.environ, "PEEKR_BENCH_DATABASE_URL": args.database_url})
        return
    url = args.database_url if args.db == "postgres" else SQLITE
    bench_one(url, n_spans=n_spans, reps=reps, overhead_batches=overhead, trigram=args.trigram)


if __name__ == "__main__":
    main()
