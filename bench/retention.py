"""Retention benchmark: expire one day of 1,000,000 spans on PostgreSQL while ingest goes on.

    .venv/bin/python bench/retention.py                  # a day of 1,000,000 spans, 31 days old
    .venv/bin/python bench/retention.py --spans 100000   # a smaller day, a quicker run

It (re)creates its own database (`peekr_bench_retention`), migrates it (traces_span partitioned by week), fills
one day 31 days ago with `--spans` spans (six per trace; ~3 KB of content each: input and output text, chat
messages, attributes; written with INSERT ... SELECT generate_series, not through the API, which would take an
hour), VACUUMs it as time would have, and starts gunicorn as bench/ingest.py does. Then, with one paced sender
posting 512-span OTLP bodies at `--rate` spans/s into the same project:

- before: `--window` seconds of ingest alone;
- during: `manage.py peekr_retention` (a process of its own, as the beat worker is) empties that day's content
  (batched UPDATEs, PEEKR_RETENTION_BATCH ids, PEEKR_RETENTION_PAUSE_SECONDS between batches) while ingest
  goes on; its wall time is the expiry time;
- after: `--window` seconds of ingest alone again (the machine may be shared: before and after bracket it);
- drop: the day's partition detached and dropped (the records tier, a year on) in the middle of a window.

Printed: p50/p99/max ingest latency per phase, the ratio of the p99 during expiry to the worse of before and
after (the target: <= 1.2), the expiry's time and rows, the drop's time. It prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _env  # noqa: E402  (bench/_env.py: database, broker, data directory, Django)
import ingest as ib  # noqa: E402  (bench/ingest.py: workload, gunicorn)

ROOT = ib.ROOT
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_retention"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/6"
TARGET_RATIO = 1.2


def insert_select(model, n: int, exprs: dict[str, str], offset: int = 0) -> str:
    """INSERT INTO model's table SELECT ... FROM generate_series: ``exprs`` (SQL over ``g``) for some columns, the
    field's default (a literal) for every other one, so fields added later need no change here."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    cols, values = [], []
    for f in fields:
        cols.append(connection.ops.quote_name(f.column))
        if f.attname in exprs:
            values.append(exprs[f.attname])
            continue
        default = f.get_default()
        if f.get_internal_type() == "JSONField":
            values.append("'" + json.dumps(default).replace("'", "''") + "'::jsonb")
        elif default is None:
            values.append("NULL")
        elif isinstance(default, bool):
            values.append("true" if default else "false")
        elif isinstance(default, (int, float)):
            values.append(repr(default))
        elif isinstance(default, datetime):
            values.append("now()")
        else:
            values.append("'" + str(default).replace("'", "''") + "'")
    return (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(cols)}) "
        f"SELECT {', '.join(values)} FROM generate_series({offset}, {offset + n - 1}) g"
    )


def text_of(g: str, pieces: int, salt: str) -> str:
    """~32 x pieces characters of incompressible-ish text (md5 hex) for row ``g``."""
    return f"(SELECT string_agg(md5({g}::text || '{salt}' || i::text), ' ') FROM generate_series(1, {pieces}) i)"


def seed(project_id: int, day: datetime, n_spans: int, chunk: int = 100_000) -> int:
    """One day of spans (and their traces) for the project, written by the database itself."""
    from django.db import connection

    from traces.models import Span, Trace

    n_traces = -(-n_spans // ib.SPANS_PER_TRACE)
    step = 86400.0 / n_traces
    day_sql = f"'{day.isoformat()}'::timestamptz"
    with connection.cursor() as cur:
        cur.execute(
            insert_select(
                Trace,
                n_traces,
                {
                    "project_id": str(project_id),
                    "trace_id": "md5('t' || g::text)",
                    "name": "'chat request'",
                    "start_time": f"{day_sql} + make_interval(secs => g * {step})",
                    "end_time": f"{day_sql} + make_interval(secs => g * {step} + 3)",
                    "duration_ms": "3000",
                    "span_count": str(ib.SPANS_PER_TRACE),
                    "input_preview": "left(md5(g::text), 300)",
                    "output_preview": "left(md5(g::text || 'o'), 300)",
                    "last_span_at": f"{day_sql} + make_interval(secs => g * {step} + 3)",
                    "completed_at": f"{day_sql} + make_interval(secs => g * {step} + 10)",
                    "processed_at": f"{day_sql} + make_interval(secs => g * {step} + 11)",
                    "stages_done": "31",
                },
            )
        )
        cur.execute("SELECT min(id) FROM traces_trace WHERE project_id = %s", [project_id])
        first = cur.fetchone()[0]
        per = ib.SPANS_PER_TRACE
        for offset in range(0, n_spans, chunk):
            n = min(chunk, n_spans - offset)
            cur.execute(
                insert_select(
                    Span,
                    n,
                    {
                        "project_id": str(project_id),
                        "trace_id": f"{first} + g / {per}",
                        "span_id": "left(md5('s' || g::text), 16)",
                        "parent_span_id": f"CASE WHEN g % {per} = 0 THEN '' ELSE left(md5('s' || (g - g % {per})::text), 16) END",
                        "name": f"CASE WHEN g % {per} = 0 THEN 'chat request' ELSE 'chat gpt-4o-mini' END",
                        "kind": f"CASE WHEN g % {per} = 0 THEN 'chain' ELSE 'llm' END",
                        "model": "'gpt-4o-mini'",
                        "start_time": f"{day_sql} + make_interval(secs => (g / {per}) * {step} + (g % {per}) * 0.4)",
                        "end_time": f"{day_sql} + make_interval(secs => (g / {per}) * {step} + (g % {per}) * 0.4 + 0.35)",
                        "duration_ms": "350",
                        "status": "'ok'",
                        "input_text": text_of("g", 12, "i"),
                        "output_text": text_of("g", 8, "o"),
                        "input_messages": f"jsonb_build_array(jsonb_build_object('role', 'user', 'content', {text_of('g', 30, 'm')}))",
                        "output_messages": f"jsonb_build_array(jsonb_build_object('role', 'assistant', 'content', {text_of('g', 8, 'r')}))",
                        "attributes": (
                            f"jsonb_build_object('gen_ai.request.model', 'gpt-4o-mini', 'gen_ai.input.messages', "
                            f"{text_of('g', 30, 'a')})"
                        ),
                        "input_tokens": "420",
                        "output_tokens": "120",
                        "total_tokens": "540",
                        "service_name": "'bench-app'",
                        "received_at": f"{day_sql} + make_interval(secs => (g / {per}) * {step} + 5)",
                    },
                    offset=offset,
                )
            )
            print(f"  {offset + n:,} spans", flush=True)
    return n_traces


def paced_sender(port: int, key: str, bodies: list[bytes], rate: float, stop: threading.Event, out: list) -> None:
    """Post one 512-span body every 512 / rate seconds until stopped; (sent at, latency ms) into ``out``."""
    import http.client

    interval = ib.SPANS_PER_REQUEST / rate
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    i, next_at = 0, time.monotonic()
    while not stop.is_set():
        began = time.perf_counter()
        conn.request("POST", "/v1/traces", body=bodies[i % len(bodies)], headers=headers)
        response = conn.getresponse()
        response.read()
        out.append((time.monotonic(), (time.perf_counter() - began) * 1000, response.status))
        i += 1
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans in the expired day (default 1,000,000)")
    parser.add_argument("--rate", type=float, default=1000.0, help="ingest while measuring, spans/s (default 1,000)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of ingest before and after (default 60)")
    parser.add_argument("--batch", type=int, default=2000, help="PEEKR_RETENTION_BATCH for the run (default 2,000)")
    parser.add_argument("--pause", type=float, default=0.2, help="PEEKR_RETENTION_PAUSE_SECONDS (default 0.2)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="recreated on every run")
    parser.add_argument("--broker-url", default=DEFAULT_BROKER_URL, help="flushed before and after")
    args = parser.parse_args()

    bench = _env.prepare(
        database_url=args.database_url,
        broker_url=args.broker_url,
        prefix="peekr-bench-retention-",
        extra={"PEEKR_RETENTION_BATCH": str(args.batch), "PEEKR_RETENTION_PAUSE_SECONDS": str(args.pause)},
    )
    env, data_dir = bench.env, bench.data_dir
    from django.db import connection

    from traces import partitions
    from traces.retention import partition_bounds, partition_name
    from traces.services import project_create

    now = datetime.now(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=31)
    partitions.partitions_ensure(now, start=day)
    project, key = project_create(name="bench-retention", key_scope="admin")
    print(f"seeding {args.spans:,} spans on {day:%Y-%m-%d} ...", flush=True)
    began = time.perf_counter()
    n_traces = seed(project.pk, day, args.spans)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE traces_span")
        cur.execute("VACUUM ANALYZE traces_trace")
        name = partition_name(partition_bounds(day)[0])
        cur.execute(f"SELECT pg_total_relation_size('{name}'), count(*) FROM {name}")
        size_before, rows_in_partition = cur.fetchone()
    print(
        f"  {time.perf_counter() - began:.0f} s; partition {name}: {rows_in_partition:,} rows, {size_before / 2**20:,.0f} MB"
    )
    connection.close()

    workload = ib.Workload.build(ib.SPANS_PER_REQUEST * 40)
    server = ib.Server(env, args.workers, args.threads, data_dir / "gunicorn.log")
    phases: dict[str, list] = {}
    expiry_s = drop_s = 0.0
    expiry_out = ""
    try:
        server.wait_ready()
        ib.warm_up(server.port, key, 4 * args.workers * args.threads)

        def measure(label: str, action=None, seconds: float | None = None) -> float:
            (bodies,), _ = workload.stamp(time.time_ns())
            out: list = []
            stop = threading.Event()
            sender = threading.Thread(target=paced_sender, args=(server.port, key, bodies, args.rate, stop, out))
            sender.start()
            took = 0.0
            if action is None:
                time.sleep(seconds or args.window)
            else:
                time.sleep(args.window / 4)
                t = time.perf_counter()
                action()
                took = time.perf_counter() - t
                time.sleep(args.window / 4)
            stop.set()
            sender.join()
            phases[label] = out
            print(f"  {label}: {len(out)} requests", flush=True)
            return took

        def expire() -> None:
            nonlocal expiry_out
            done = subprocess.run(
                [sys.executable, "manage.py", "peekr_retention", "--project", str(project.pk)],
                cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=True,
            )  # fmt: skip
            expiry_out = done.stdout

        def drop() -> None:
            partitions.partition_drop(name)
            connection.close()

        print("ingest alone (before) ...", flush=True)
        measure("before")
        print("ingest during the expiry of the day's content ...", flush=True)
        expiry_s = measure("during expiry", expire)
        print("ingest alone (after) ...", flush=True)
        measure("after")
        print("ingest during the drop of the day's partition ...", flush=True)
        drop_s = measure("during drop", drop)
    finally:
        server.stop()
        bench.close()

    print()
    print(
        f"Peekr retention benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, PostgreSQL "
        f"{ib.postgres_version()}; one day of {args.spans:,} spans ({n_traces:,} traces), partition {name} "
        f"{size_before / 2**20:,.0f} MB; ingest {args.rate:,.0f} spans/s (one sender, 512-span OTLP bodies) into "
        f"gunicorn {args.workers}x{args.threads}; batch {args.batch:,}, pause {args.pause} s"
    )
    print()
    header = f"{'phase':>14} | {'requests':>8} | {'non-200':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7}"
    print(header)
    print("-" * len(header))
    for label, out in phases.items():
        lat = [ms for _, ms, _ in out]
        bad = sum(1 for *_, status in out if status != 200)
        print(
            f"{label:>14} | {len(out):>8} | {bad:>7} | {pct(lat, 0.5):>7.0f} | {pct(lat, 0.99):>7.0f} | {max(lat):>7.0f}"
        )
    alone = max(pct([ms for _, ms, _ in phases["before"]], 0.99), pct([ms for _, ms, _ in phases["after"]], 0.99))
    during = pct([ms for _, ms, _ in phases["during expiry"]], 0.99)
    ratio = during / alone
    print()
    print(f"content expiry of the day: {expiry_s:.1f} s ({args.spans / max(expiry_s, 1e-9):,.0f} spans/s)")
    print("\n".join("  " + line.strip() for line in expiry_out.splitlines()[1:]))
    print(f"partition drop (detach + drop, records tier): {drop_s * 1000:.0f} ms")
    print(
        f"ingest p99 during expiry / ingest alone (worse of before, after): {during:.0f} / {alone:.0f} ms = "
        f"{ratio:.2f}x ({'within' if ratio <= TARGET_RATIO else 'OVER'} the {TARGET_RATIO}x target)"
    )


if __name__ == "__main__":
    main()
