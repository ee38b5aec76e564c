"""Rollups: what the worker pays per trace, a 90-day chart at 10 M traces' worth of rollups, 200 monitors.

    .venv/bin/python bench/rollups.py                       # SQLite in a temporary folder (the laptop default)
    PEEKR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/peekr_bench_rollups .venv/bin/python bench/rollups.py

On PostgreSQL the database must be named peekr_bench*: it is dropped, created and migrated (and dropped at the
end). In-process, no web server or worker:

(a) the rollup stage (metrics.services.traces_rollup) over batches of --batch realistic traces (root, chat call
    with TTFT, tool call; three rule scores and an SDK score each; a signal on one in five; users and
    sessions): process CPU (time.process_time: Python, the driver; not the database server's) and wall time
    per trace, first run (no previous contribution) and again (the old one subtracted, as a re-scored trace);
(b) a 90-day chart's server time: rollup rows written directly for 90 days x 24 h x 21 dimension values (all, 5
    releases, 3 models, 2 environments, 10 intents), with their day rows, each hour summing --traces-per-hour traces (4,630 = 10 M
    over 90 days), then insights.charts.render_chart for the rollup charts at 90 days (and 24 h to compare);
(c) alerts.services.monitors_evaluate over 200 monitors (metrics and release filters) on those rollups.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def setup() -> tuple[str, str | None]:
    url = os.environ.get("PEEKR_DATABASE_URL", "")
    tmp = tempfile.mkdtemp(prefix="peekr-bench-rollups-")
    os.environ.setdefault("PEEKR_DATA_DIR", tmp)
    os.environ.setdefault("PEEKR_LOG_LEVEL", "ERROR")
    os.environ["DJANGO_SETTINGS_MODULE"] = "peekr_web.settings"
    if url:
        import ingest  # noqa: PLC0415  (bench/ingest.py: the peekr_bench* guard)

        ingest.recreate_database(url)
        backend = "PostgreSQL"
    else:
        os.environ["PEEKR_DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        backend = "SQLite"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return backend, url or None


def bench_stage(n_traces: int, batch: int) -> None:
    from evals.models import Score
    from metrics.services import traces_rollup
    from signals.models import Signal
    from tests.base import make_production_trace, make_project
    from traces.models import Trace

    project, _ = make_project("bench-stage")
    start = time.time() - 3 * 3600
    rng = random.Random(1)
    pks = []
    for i in range(n_traces):
        t = make_production_trace(
            project,
            start=start + i * 5,
            release=f"2.{i % 3}.0",
            model=("gpt-4o-mini", "gpt-4o")[i % 2],
            name=("answer", "search", "summarise")[i % 3],
            tool_error=i % 7 == 0,
            sdk_scores={"faithfulness": round(rng.random(), 3)},
            user_id=f"user-{i % 50}",
            session_id=f"session-{i // 4}",
        )
        pks.append(t.pk)
    scores = [
        Score(project=project, trace_id=pk, target_key=f"trace:{pk}", evaluator=ev, source="rule", status="done",
              value=v, passed=v >= 0.5)
        for pk in pks
        for ev, v in (("non_empty", 1.0), ("pii", 1.0 if rng.random() > 0.05 else 0.0), ("json_valid", rng.random()))
    ]  # fmt: skip
    Score.objects.bulk_create(scores, batch_size=1000)
    Signal.objects.bulk_create(
        [Signal(project=project, trace_id=pk, kind=("thumbs_down", "task_completed", "rephrase")[i % 3],
                source="api", key=f"s{pk}", session_id=f"session-{i // 4}") for i, pk in enumerate(pks) if i % 5 == 0]
    )  # fmt: skip
    Trace.objects.filter(pk__in=pks).update(completed_at=datetime.now(UTC))
    spans = sum(Trace.objects.filter(pk__in=pks).values_list("span_count", flat=True)) / len(pks)
    print(f"(a) rollup stage: {n_traces} traces ({spans:.0f} spans, 4 scores, 5 dimension values each), "
          f"batches of {batch}")  # fmt: skip
    for label in ("first run", "again (old subtracted)"):
        cpu, wall = [], []
        for i in range(0, len(pks), batch):
            chunk = pks[i : i + batch]
            c0, w0 = time.process_time(), time.perf_counter()
            traces_rollup(chunk)
            cpu.append((time.process_time() - c0) * 1000 / len(chunk))
            wall.append((time.perf_counter() - w0) * 1000 / len(chunk))
        print(f"    {label:24s} CPU {statistics.mean(cpu):.2f} ms/trace (batches {min(cpu):.2f}-{max(cpu):.2f}), "
              f"wall {statistics.mean(wall):.2f} ms/trace")  # fmt: skip


def _hour_data(rng: random.Random, n: int) -> dict:
    """One hour's accumulators for n traces, shaped as the stage writes them."""
    from metrics.accumulators import SIGNAL_RATES, sketch_of

    def acc(mean: float, sd: float, share: float = 1.0) -> list[float]:
        k = max(int(n * share), 1)
        return [mean * k, k, (mean * mean + sd * sd) * k]

    data = {f"{s}_rate": acc(0.03, 0.17) for s in SIGNAL_RATES}
    data.update(
        error_rate=acc(0.02, 0.14), tool_failure_rate=acc(0.04, 0.2, 0.6), latency_ms=acc(1800, 900),
        ttft_ms=acc(320, 120), tpot_ms=acc(18, 6), cost_per_trace=acc(0.004, 0.002), rating=acc(0.8, 0.2, 0.02),
        success_cost=acc(0.004, 0.002, 0.3), tasks_completed=[n * 0.1, n * 0.1, n * 0.1],
    )  # fmt: skip
    for ev in ("faithfulness", "answer_relevancy", "pii", "tool_allowed", "json_valid"):
        data[f"score:{ev}"] = acc(0.8, 0.15)
        data[f"pass:{ev}"] = acc(0.9, 0.3)
    sketch = sketch_of([rng.lognormvariate(7.3, 0.5) for _ in range(300)])
    scale = n / 300
    data["latency_sketch"] = {"bins": {k: round(c * scale) for k, c in sketch["bins"].items()}, "n": n}
    return data


def bench_charts(traces_per_hour: int, now: datetime) -> object:
    from django.db import connection

    from insights.charts import render_chart
    from metrics.accumulators import data_add
    from metrics.contribution import DAY_PREFIX
    from metrics.models import Rollup
    from tests.base import make_project

    project, _ = make_project("bench-charts")
    rng = random.Random(2)
    dims = [("all", "", 1.0)]
    dims += [("release", f"2.{i}.0", 0.2) for i in range(5)]
    dims += [("model", m, s) for m, s in (("gpt-4o", 0.5), ("gpt-4o-mini", 0.4), ("claude", 0.1))]
    dims += [("environment", e, s) for e, s in (("production", 0.9), ("staging", 0.1))]
    dims += [("intent", f"intent-{i}", 0.1) for i in range(10)]
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=90)
    templates = [_hour_data(rng, traces_per_hour) for _ in range(24)]
    day_data: dict = {}
    for template in templates:
        day_data = data_add(day_data, template)
    t0 = time.perf_counter()
    rows = []
    for h in range(90 * 24):
        hour = first + timedelta(hours=h)
        for dim, value, share in dims:
            n = max(int(traces_per_hour * share), 1)
            rows.append(Rollup(project=project, dim=dim, value=value, hour=hour, traces=n, data=templates[h % 24]))
        if h % 24 == 23:  # the day's rows, as the stage writes them: the sum of its 24 hours
            day = hour.replace(hour=0)
            for dim, value, share in dims:
                n = max(int(traces_per_hour * share), 1) * 24
                rows.append(
                    Rollup(project=project, dim=DAY_PREFIX + dim, value=value, hour=day, traces=n, data=day_data)
                )
        if len(rows) >= 5000:
            Rollup.objects.bulk_create(rows)
            rows = []
    Rollup.objects.bulk_create(rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE metrics_rollup")
    total = Rollup.objects.filter(project=project).count()
    print(f"(b) 90-day charts: {total:,} rollup rows ({len(dims)} dimension values x (2,160 h + 90 d), "
          f"{traces_per_hour * 24 * 90 / 1e6:.1f} M traces' worth), written in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    for name, params in [("ttft_tpot", {}), ("cost_per_task", {}), ("signal_rates", {}),
                         ("metric_by_release", {"metric": "score:faithfulness"}),
                         ("metric_by_release", {"metric": "latency_p95_ms"})]:  # fmt: skip
        line = f"    {name:18s} {params.get('metric', ''):20s}"
        for range_key in ("24h", "90d"):
            times = []
            for _ in range(5):
                t = time.perf_counter()
                render_chart(name, project=project, range_key=range_key, now=now, params=params)
                times.append((time.perf_counter() - t) * 1000)
            line += f" | {range_key}: median {statistics.median(times):6.1f} ms, max {max(times):6.1f}"
        print(line)
    return project


def bench_monitors(project, now: datetime, n: int = 200) -> None:
    try:
        from alerts.models import Monitor
        from alerts.services import monitors_evaluate
    except ImportError as exc:
        print(f"(c) monitors: skipped, alerts is not there ({exc})")
        return
    metrics = ["score:faithfulness", "score:answer_relevancy", "pass:pii", "tool_failure_rate", "thumbs_down_rate",
               "latency_p95_ms", "cost_per_trace", "error_rate", "ttft_ms", "tpot_ms"]  # fmt: skip
    filters = [{}] + [{"release": f"2.{i}.0"} for i in range(5)] + [{"intent": f"intent-{i}"} for i in range(10)]
    Monitor.objects.exclude(project=project).update(enabled=False)
    Monitor.objects.filter(project=project).delete()
    Monitor.objects.bulk_create(
        [
            Monitor(project=project, name=f"m{i}", metric=metrics[i % len(metrics)], filter=filters[i % len(filters)],
                    direction="up" if metrics[i % len(metrics)] in metrics[3:] else "down", min_sample=30)
            for i in range(n)
        ]
    )  # fmt: skip
    print(f"(c) {n} monitors (10 metrics x 16 filters), 24 h vs the 7 days before, on 90 days of hourly rollups")
    for i in range(3):
        t = time.perf_counter()
        counts = monitors_evaluate(now=now + timedelta(minutes=5 * i))
        print(f"    tick {i + 1}: {time.perf_counter() - t:.2f} s  {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=600)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--traces-per-hour", type=int, default=4630)
    parser.add_argument("--skip-stage", action="store_true")
    args = parser.parse_args()
    backend, url = setup()
    from django.db import connection

    version = connection.cursor().connection.info.server_version if backend == "PostgreSQL" else ""
    print(f"Peekr rollups benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.system()} "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {backend} {version}")  # fmt: skip
    now = datetime.now(UTC)
    try:
        if not args.skip_stage:
            bench_stage(args.traces, args.batch)
        project = bench_charts(args.traces_per_hour, now)
        bench_monitors(project, now)
    finally:
        if url:
            connection.close()
            import urllib.parse

            import psycopg

            parsed = urllib.parse.urlparse(url)
            with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')


if __name__ == "__main__":
    main()
