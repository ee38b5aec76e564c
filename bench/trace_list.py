"""Trace list benchmark: the first page under each sort, page 20 through the cursor, the bounded total, a text filter
with "contains", and the attribute filter, at N traces (default 200,000), on PostgreSQL and SQLite.

    .venv/bin/python bench/trace_list.py                    # both databases, 200,000 traces
    .venv/bin/python bench/trace_list.py --db sqlite --traces 50000 --runs 5

Per database: a fresh bench database (bench/_env.py), migrated; N trace rows spread over 30 days written with
bulk_create (aggregates as ingest leaves them: duration, cost, tokens, environment, tags, models), and one span per
trace for the newest 20,000 (an `app.tenant` attribute among 50 values), then ANALYZE. Each query is the one the
trace list runs (traces.selectors.trace_page / traces_count), in-process, warm: median and p95 of `--runs`.
It prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import _env  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_trace_list"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/9"
MODELS = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4", "gpt-4.1", "llama-3.1-70b"]
ENVS = ["production", "staging", "dev"]


def timed(fn, runs: int) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def load(n: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from traces.models import Project, Span, Trace

    project = Project.objects.create(name="bench")
    now = timezone.now()
    if connection.vendor == "postgresql":
        from traces.partitions import partitions_ensure

        partitions_ensure(now, start=now - timedelta(days=31))
    rng = random.Random(7)
    batch = []
    for i in range(n):
        tokens = rng.randint(0, 20000)
        batch.append(Trace(
            project=project, trace_id=f"{i:032x}", name=f"POST /v1/answer {i % 7}",
            start_time=now - timedelta(seconds=i * 30 * 86400 / n), duration_ms=rng.choice([None] + [rng.random() * 9000] * 20),
            span_count=6, total_tokens=tokens, cost=tokens * 0.0000025, models_used=rng.choice(MODELS),
            environment=rng.choice(ENVS), tags="|vip|" if i % 13 == 0 else "", completed_at=now,
        ))  # fmt: skip
        if len(batch) == 5000:
            Trace.objects.bulk_create(batch)
            batch = []
    Trace.objects.bulk_create(batch)
    traces = Trace.objects.filter(project=project).order_by("-start_time").values_list("pk", "start_time")[:20000]
    spans = [Span(project=project, trace_id=pk, span_id=f"{pk:016x}", name="root", start_time=start,
                  attributes={"app.tenant": f"tenant-{pk % 50}"}) for pk, start in traces]  # fmt: skip
    Span.objects.bulk_create(spans, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def run(db: str, n: int, runs: int) -> dict:
    bench = _env.prepare(database_url=db, broker_url=DEFAULT_BROKER_URL, prefix="peekr-bench-list-")
    try:
        from traces import extensions, selectors
        from traces.models import Project

        t0 = time.perf_counter()
        load(n)
        out = {"database": _env.database_version(), "traces": n, "load_s": round(time.perf_counter() - t0, 1)}
        project = Project.objects.get(name="bench")
        none = selectors.TraceFilters()
        sorts = extensions.trace_list_sorts()
        for sort in ("-start", "-duration", "cost", "-tokens", "score"):

            def first(sort=sort):
                return selectors.trace_page(project=project, filters=none, sort=sort, sorts=sorts)

            def page20(sort=sort):
                cursor = ""
                for _ in range(20):
                    cursor = selectors.trace_page(project=project, filters=none, sort=sort, sorts=sorts,
                                                  cursor=cursor).next_cursor  # fmt: skip
                return cursor

            out[f"first page sort={sort} ms (p50, p95)"] = timed(first, runs)
            out[f"20 pages sort={sort} ms"] = timed(page20, max(1, runs // 3))
        out["count (bound 10,000) ms"] = timed(lambda: selectors.traces_count(project=project, filters=none), runs)
        prod = selectors.TraceFilters(environment="production")
        out["count env=production ms"] = timed(lambda: selectors.traces_count(project=project, filters=prod), runs)
        contains = selectors.TraceFilters(model="sonnet", ops={"model": "contains"})
        out["first page model contains ms"] = timed(
            lambda: selectors.trace_page(project=project, filters=contains), runs
        )
        rare = selectors.TraceFilters(tag="vip", ops={"tag": "eq"}, min_cost=0.049)
        out["first page rare (tag + min cost) ms"] = timed(
            lambda: selectors.trace_page(project=project, filters=rare), runs
        )
        attr = selectors.TraceFilters(attr_key="app.tenant", attr_value="tenant-7")
        out["first page attribute eq ms"] = timed(lambda: selectors.trace_page(project=project, filters=attr), runs)
        out["count attribute eq ms"] = timed(lambda: selectors.traces_count(project=project, filters=attr), runs)
        return out
    finally:
        bench.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["both", "postgres", "sqlite"], default="both")
    parser.add_argument("--traces", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.traces, args.runs)))
        return
    urls = {"postgres": os.environ.get("PEEKR_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL), "sqlite": _env.SQLITE}
    for name in ["postgres", "sqlite"] if args.db == "both" else [args.db]:
        # One process per database: Django is set up once per process.
        done = subprocess.run([sys.executable, __file__, "--child", urls[name], "--traces", str(args.traces),
                               "--runs", str(args.runs)], capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            print(done.stderr[-3000:])
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"\n{figures.pop('database')}, {figures.pop('traces'):,} traces (loaded in {figures.pop('load_s')} s)")
        for what, value in figures.items():
            shown = f"{value[0]:.1f} / {value[1]:.1f}" if isinstance(value, list | tuple) else value
            print(f"  {what:<45} {shown}")


if __name__ == "__main__":
    main()
