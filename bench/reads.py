"""Read benchmark: GET /api/v1/traces/{id} and the trace page of a 1,000- and a 5,000-span trace among 1,000,000
other spans, on PostgreSQL and SQLite.

    .venv/bin/python bench/reads.py                 # both databases, 1,000,000 other spans
    .venv/bin/python bench/reads.py --quick         # a smoke run: 50,000 other spans, fewer requests
    .venv/bin/python bench/reads.py --db sqlite --others 200000 --no-browser

Per database (each in a process of its own: Django is set up once per process), in a fresh database
(`peekr_bench_reads` on PostgreSQL, dropped and created again; SQLite in a temporary data directory):

- the two traces are sent through the real ingest path (OTLP protobuf decoded, spans_ingest): bench/ingest.py's
  OpenInference workload (agent traces of 6 spans, ~4 KB of OTLP a span), its traces hung under one root;
- the other spans are copies of those stored rows (same sizes, fresh ids and times) in traces of 6, written
  straight into the tables (COPY on PostgreSQL, executemany on SQLite), then ANALYZE;
- gunicorn (1 worker, 2 threads) serves; the API is asked `--runs` times per trace after 3 warm-ups, on one
  kept-alive connection: median, p95 and body size, for the whole trace, for `fields=` the tree's fields, and
  for the first page of `limit=500` (with the shape of every span);
- in-process, the same trace through the old code path (model instances, span_out, pydantic validation of
  TraceDetailOut, json with ninja's encoder) and the new one (get_trace's rows and orjson), without HTTP:
  the before/after of the serialisation itself;
- headless Chromium (Playwright, /usr/bin/chromium as tests/browser.py): the trace page until the virtualised
  waterfall shows its rows (median of 3 loads), the rows in the DOM, and a scroll to the end in 40 steps
  (frame time p95).

It prints figures, never asserts (targets: API < 100 ms at 1,000 spans, < 500 ms at 5,000 on PostgreSQL;
page < 1.5 s at 5,000).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import _env  # noqa: E402  (bench/_env.py: the bench's database, broker, data directory and Django)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_reads"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/8"
PASSWORD = "bench-reads-pw-1"
TREE_FIELDS = "parent_span_id,name,kind,start_time,end_time,duration_ms,status"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# ---------------------------------------------------------------------------------------------------------------
# Data


def ingest_trace(project, n_spans: int, seed: int) -> str:
    """A trace of n_spans through OTLP decoding and spans_ingest: 6-span agent traces hung under the first root."""
    import ingest as ib

    from traces.otlp import PROTOBUF, decode_traces_request
    from traces.services import spans_ingest

    workload = ib.Workload.build(n_spans, seed=seed)
    plan, _ = workload.stamp(time.time_ns(), senders=1)
    trace_id = os.urandom(16)
    top = workload.traces[0][0]
    for trace in workload.traces:
        for span in trace:
            span.trace_id = trace_id
        if trace[0] is not top:
            trace[0].parent_span_id = top.span_id
    top.end_time_unix_nano = max(s.end_time_unix_nano for t in workload.traces for s in t)
    plan, _ = restamp(workload, trace_id)
    for body in plan:
        raws, _ = decode_traces_request(body, PROTOBUF)
        spans_ingest(project=project, raws=raws)
    return trace_id.hex()


def restamp(workload, trace_id: bytes) -> tuple[list[bytes], None]:
    """The workload's spans (already given ids and times) as 512-span protobuf bodies."""
    import ingest as ib
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    resource = Resource(attributes=[ib.kv("service.name", "bench-app")])
    spans = [span for trace in workload.traces for span in trace]
    bodies = []
    for start in range(0, len(spans), ib.SPANS_PER_REQUEST):
        chunk = spans[start : start + ib.SPANS_PER_REQUEST]
        request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=resource, scope_spans=[ScopeSpans(scope=InstrumentationScope(name="bench"), spans=chunk)]
                )
            ]
        )
        bodies.append(request.SerializeToString())
    return bodies, None


def fill_others(project, template_trace: str, n_spans: int) -> float:
    """n_spans other spans in traces of 6: copies of the template trace's stored rows (realistic sizes), fresh ids
    and times in the hour before it, written straight into the tables. Returns the seconds it took."""
    from django.db import connection, transaction

    from traces.models import Span, Trace

    t0 = time.perf_counter()
    trace_row = Trace.objects.filter(project=project, trace_id=template_trace).values().get()
    span_rows = list(Span.objects.filter(trace_id=trace_row["id"]).order_by("start_time").values())
    trace_fields = [f for f in Trace._meta.concrete_fields]
    span_fields = [f for f in Span._meta.concrete_fields if not f.primary_key]
    json_trace = {f.attname for f in trace_fields if f.get_internal_type() == "JSONField"}
    json_span = {f.attname for f in span_fields if f.get_internal_type() == "JSONField"}
    for row in span_rows:
        for name in json_span:
            row[name] = None if row[name] is None else json.dumps(row[name])
    for name in json_trace:
        trace_row[name] = None if trace_row[name] is None else json.dumps(trace_row[name])
    n_traces = -(-n_spans // 6)
    first_pk = (Trace.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    base = trace_row["start_time"] - timedelta(hours=1)
    step = timedelta(hours=1) / max(n_traces, 1)
    postgres = connection.vendor == "postgresql"
    if postgres:
        from traces import partitions

        if partitions.is_partitioned():
            partitions.partitions_ensure(trace_row["start_time"], start=base)

    def value(v, f):
        if not postgres and v is not None and f.get_internal_type() == "DateTimeField":
            return v.replace(tzinfo=None).isoformat(" ")
        return v

    def traces_batch(lo: int, hi: int):
        for k in range(lo, hi):
            start = base + step * k
            yield [
                value(
                    {
                        "id": first_pk + k,
                        "trace_id": f"{k:032x}",
                        "start_time": start,
                        "end_time": start + timedelta(seconds=5),
                        "last_span_at": start,
                        "span_count": 6,
                    }.get(f.attname, trace_row.get(f.attname)),
                    f,
                )
                for f in trace_fields
            ]

    def spans_batch(lo: int, hi: int):
        for k in range(lo, hi):
            start = base + step * k
            for j in range(6):
                row = span_rows[(k * 6 + j) % len(span_rows)]
                over = {
                    "trace_id": first_pk + k,
                    "span_id": f"{0xB000000000000000 + k * 6 + j:016x}",
                    "parent_span_id": "" if j == 0 else f"{0xB000000000000000 + k * 6:016x}",
                    "start_time": start + timedelta(milliseconds=10 * j),
                    "end_time": start + timedelta(milliseconds=10 * j + 5),
                    "received_at": start,
                }
                yield [value(over.get(f.attname, row[f.attname]), f) for f in span_fields]

    q = connection.ops.quote_name
    trace_cols = ", ".join(q(f.column) for f in trace_fields)
    span_cols = ", ".join(q(f.column) for f in span_fields)
    chunk = 2000
    with transaction.atomic(), connection.cursor() as cur:
        for lo in range(0, n_traces, chunk):
            hi = min(n_traces, lo + chunk)
            if postgres:
                raw = cur.cursor
                with raw.copy(f"COPY {q(Trace._meta.db_table)} ({trace_cols}) FROM STDIN") as copy:
                    for row in traces_batch(lo, hi):
                        copy.write_row(row)
                with raw.copy(f"COPY {q(Span._meta.db_table)} ({span_cols}) FROM STDIN") as copy:
                    for row in spans_batch(lo, hi):
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(trace_fields))
                cur.executemany(
                    f"INSERT INTO {q(Trace._meta.db_table)} ({trace_cols}) VALUES ({marks})", list(traces_batch(lo, hi))
                )
                marks = ", ".join(["%s"] * len(span_fields))
                cur.executemany(
                    f"INSERT INTO {q(Span._meta.db_table)} ({span_cols}) VALUES ({marks})", list(spans_batch(lo, hi))
                )
        if postgres:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{Trace._meta.db_table}', 'id'), %s)", [first_pk + n_traces]
            )
    with connection.cursor() as cur:
        cur.execute("ANALYZE" if not postgres else f"ANALYZE {q(Trace._meta.db_table)}, {q(Span._meta.db_table)}")
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------------------------
# Measuring


def api_figures(port: int, key: str, path: str, runs: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {key}"}
    times, size = [], 0
    for i in range(runs + 3):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        size = len(body)
        if i >= 3:
            times.append(elapsed)
    conn.close()
    return {"median_ms": statistics.median(times), "p95_ms": pct(times, 95), "bytes": size}


def in_process(project, trace_id: str, runs: int) -> dict:
    """The serialisation before and after, without HTTP, auth or audit: the old path (instances, span_out,
    pydantic, json + ninja's encoder) against the new (tuples, orjson)."""
    from ninja.responses import NinjaJSONEncoder
    from pydantic import create_model

    from traces import api, selectors
    from traces.schemas import SpanOut, TraceOut

    old_detail = create_model("OldDetail", __base__=TraceOut, spans=(list[SpanOut], ...))  # TraceDetailOut as it was

    trace = selectors.trace_get(project=project, trace_id=trace_id)

    def before():
        body = {**api.trace_out(trace), "spans": [api.span_out(s) for s in selectors.trace_spans(trace=trace)]}
        return json.dumps(old_detail.model_validate(body).model_dump(), cls=NinjaJSONEncoder).encode()

    def after():
        columns = api.SpanColumns(list(api.SPAN_OUTPUT_FIELDS), raw=False)
        rows = selectors.trace_span_values(trace=trace, columns=columns.exprs)
        body = {**api.trace_out(trace), "spans": api.span_rows_json(rows, columns), "shape": None, "next_cursor": None}
        return api.orjson.dumps(body, option=api.DUMPS)

    out = {}
    for name, run in (("before", before), ("after", after)):
        run()
        times = []
        for _ in range(max(3, runs // 4)):
            t0 = time.perf_counter()
            size = len(run())
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = {"median_ms": statistics.median(times), "bytes": size}
    return out


def browser_figures(base: str, project_pk: int, trace_id: str, loads: int = 3) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            url = f"{base}/p/{project_pk}/traces/{trace_id}"
            times = []
            for _ in range(loads + 1):
                t0 = time.perf_counter()
                page.goto(url, wait_until="domcontentloaded")
                try:
                    page.wait_for_selector("#wf-rows[data-virtual] .wf-row")
                except Exception as exc:
                    msg = f"the page did not draw its waterfall: {page.url}\n{page.content()[:3000]}"
                    raise SystemExit(msg) from exc
                times.append((time.perf_counter() - t0) * 1000)
            times = times[1:]  # the first load warms the server's and the browser's caches
            dom_rows = page.locator(".wf-row").count()
            frames = page.evaluate(
                """() => new Promise((done) => {
                    const times = []; let last = performance.now(); let step = 0;
                    const height = document.body.scrollHeight;
                    function tick(now) {
                        times.push(now - last); last = now;
                        if (step++ >= 40) { done(times.slice(1)); return; }
                        window.scrollTo(0, height * step / 40);
                        requestAnimationFrame(tick);
                    }
                    requestAnimationFrame(tick);
                })"""
            )
        finally:
            browser.close()
    return {"load_ms": statistics.median(times), "dom_rows": dom_rows, "frame_p95_ms": pct(frames, 95)}


def child(args) -> dict:
    bench = _env.prepare(
        database_url=args.database_url if args.child == "postgresql" else _env.SQLITE,
        broker_url=args.broker_url,
        prefix="peekr-bench-reads-",
    )
    import ingest as ib
    from django.contrib.auth import get_user_model

    from traces.models import Membership, Role
    from traces.services import project_create

    result: dict = {"database": _env.database_version(), "others": args.others}
    try:
        project, key = project_create(name="bench", key_scope="admin")
        user = get_user_model().objects.create_user(username="bench", password=PASSWORD)
        Membership.objects.create(project=project, user=user, role=Role.OWNER)
        t0 = time.perf_counter()
        traces = {n: ingest_trace(project, n, seed=n) for n in (1000, 5000)}
        result["ingest_s"] = time.perf_counter() - t0
        result["fill_s"] = fill_others(project, traces[1000], args.others)
        server = ib.Server(bench.env, workers=1, threads=2, log=bench.data_dir / "gunicorn.log")
        server.wait_ready()
        try:
            for n, tid in traces.items():
                path = f"/api/v1/traces/{tid}"
                result[f"api_{n}"] = api_figures(server.port, key, path, args.runs)
                result[f"api_{n}_tree"] = api_figures(server.port, key, f"{path}?fields={TREE_FIELDS}", args.runs)
                result[f"api_{n}_page"] = api_figures(server.port, key, f"{path}?limit=500", args.runs)
                result[f"inproc_{n}"] = in_process(project, tid, args.runs)
                if not args.no_browser:
                    result[f"page_{n}"] = browser_figures(f"http://127.0.0.1:{server.port}", project.pk, tid)
        finally:
            server.stop()
    finally:
        bench.close()
    return result


def report(results: list[dict]) -> None:
    print()
    for r in results:
        print(
            f"== {r['database']}, {r['others']:,} other spans (made in {r['fill_s']:.0f} s; the two traces ingested in {r['ingest_s']:.0f} s)"
        )
        for n in (1000, 5000):
            for label, key in (
                ("whole trace", f"api_{n}"),
                ("fields=tree", f"api_{n}_tree"),
                ("limit=500 p1", f"api_{n}_page"),
            ):
                f = r[key]
                print(
                    f"  GET {n:>5}-span trace, {label:<13} median {f['median_ms']:7.1f} ms  p95 {f['p95_ms']:7.1f} ms  {f['bytes'] / 1e6:6.2f} MB"
                )
            ip = r[f"inproc_{n}"]
            print(
                f"  in-process serialisation {n:>5}: before {ip['before']['median_ms']:7.1f} ms ({ip['before']['bytes'] / 1e6:.2f} MB)"
                f"  after {ip['after']['median_ms']:7.1f} ms ({ip['after']['bytes'] / 1e6:.2f} MB)"
            )
            if f"page_{n}" in r:
                p = r[f"page_{n}"]
                print(
                    f"  trace page {n:>5}: loaded in {p['load_ms']:6.0f} ms, {p['dom_rows']} rows in the DOM,"
                    f" scroll frame p95 {p['frame_p95_ms']:.1f} ms"
                )
    print("\ntargets (PostgreSQL): 1,000 spans < 100 ms, 5,000 spans < 500 ms; page at 5,000 spans < 1.5 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--others", type=int, default=1_000_000, help="other spans in the database (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50,000 other spans, 8 requests each")
    parser.add_argument("--db", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite")
    parser.add_argument("--runs", type=int, default=20, help="requests measured per figure (default 20)")
    parser.add_argument("--no-browser", action="store_true", help="skip the page loads in Chromium")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="recreated on every run")
    parser.add_argument("--broker-url", default=DEFAULT_BROKER_URL, help="flushed at the end (a bench-only db)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.others, args.runs = min(args.others, 50_000), min(args.runs, 8)
    if args.child:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return
    results = []
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        cmd = [sys.executable, __file__, "--child", db, "--others", str(args.others), "--runs", str(args.runs)]
        cmd += ["--database-url", args.database_url, "--broker-url", args.broker_url]
        cmd += ["--no-browser"] if args.no_browser else []
        print(f"-- {db}: {args.others:,} other spans ...", flush=True)
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{db} run failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
        results.append(json.loads(line[len("RESULT ") :]))
    report(results)


if __name__ == "__main__":
    main()
