"""One worker's CPU per trace in the after-completion pipeline, per stage, in-process (no web server, no worker).

    .venv/bin/python bench/pipeline_profile.py                                   # SQLite in a temporary folder
    .venv/bin/python bench/pipeline_profile.py --database-url postgres://postgres@127.0.0.1:5432/peekr_bench_prof
    .venv/bin/python bench/pipeline_profile.py --traces 510 --profile 25         # and cProfile's top 25

bench/pipeline.py's traffic (bench/ingest.py's six-span RAG + tool traces) is stored through spans_ingest into a
project set up as `make run`'s demo one, the traces are completed, and traces.pipeline.pipeline_run runs over
them in batches of --batch (85: one OTLP request's traces, as the settle task gets them). Each registered stage's
handler is timed with time.process_time (this process's CPU: Python and the driver, not the database server's)
and wall time; --profile N then runs the same batches again, from scratch (stages_done reset, scores kept:
the upserts' second-run path), under cProfile (timed by process CPU, so waiting on the database counts for nothing) and prints the top N
functions by cumulative and by own time.
On PostgreSQL the database must be named peekr_bench*: it is recreated, and dropped at the end.
--app-root DIR runs another copy of the code (before/after). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def setup(args) -> None:
    """A fresh database (PostgreSQL: recreated; SQLite: in a temporary folder), Django migrated; the broker is
    kombu's in-memory one: messages the stages send (judge calls) go nowhere, and no Redis db is touched."""
    import tempfile

    import _env

    sys.path.insert(0, str(args.app_root))
    os.chdir(args.app_root)
    data_dir = tempfile.mkdtemp(prefix="peekr-bench-prof-")
    env = {"DJANGO_SETTINGS_MODULE": "peekr_web.settings", "PEEKR_DATA_DIR": data_dir, "PEEKR_LOG_LEVEL": "ERROR",
           "PEEKR_DEBUG": "0", "PEEKR_BROKER_URL": "memory://", "PEEKR_CELERY_EAGER": "0"}  # fmt: skip
    if args.database_url:
        _env.ensure_postgres(args.database_url)
        _env.recreate_database(args.database_url)
        env["PEEKR_DATABASE_URL"] = args.database_url
    else:
        env["PEEKR_DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    _env.setup_django(env)
    args.data_dir = data_dir


def traces_make(n: int):
    import eval_overhead as eo
    from django.utils import timezone

    from traces.extensions import demo_project_created
    from traces.models import Trace
    from traces.services import project_create

    project, _ = project_create(name=f"bench-prof-{time.time_ns()}")
    demo_project_created(project)
    pks = eo.ingest_in_process(project, n, seed=7)
    Trace.objects.filter(pk__in=pks).update(completed_at=timezone.now())
    return pks


class StageClock:
    """Wraps every registered stage's handler: process CPU and wall time per stage."""

    def __init__(self):
        from traces import pipeline

        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.originals = {}
        for i, stage in enumerate(pipeline.STAGES):
            self.originals[i] = stage
            pipeline.STAGES[i] = type(stage)(**{**stage.__dict__, "handler": self._timed(stage)})

    def _timed(self, stage):
        def handler(pks):
            c0, w0 = time.process_time(), time.perf_counter()
            try:
                return stage.handler(pks)
            finally:
                self.cpu[stage.name] = self.cpu.get(stage.name, 0.0) + time.process_time() - c0
                self.wall[stage.name] = self.wall.get(stage.name, 0.0) + time.perf_counter() - w0

        return handler

    def restore(self):
        from traces import pipeline

        for i, stage in self.originals.items():
            pipeline.STAGES[i] = stage


def run_batches(pks: list[int], batch: int) -> tuple[float, float]:
    from traces.models import Trace
    from traces.pipeline import pipeline_run

    Trace.objects.filter(pk__in=pks).update(stages_done=0, processed_at=None)
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(0, len(pks), batch):
        pipeline_run(trace_pks=pks[i : i + batch])
    return time.process_time() - c0, time.perf_counter() - w0


def report(label: str, clock: StageClock, cpu: float, wall: float, n: int) -> None:
    print(f"  {label}: pipeline_run CPU {cpu * 1000 / n:.2f} ms/trace, wall {wall * 1000 / n:.2f} ms/trace")
    for name in clock.cpu:
        print(
            f"    {name:10s} CPU {clock.cpu[name] * 1000 / n:6.2f} ms/trace   wall {clock.wall[name] * 1000 / n:6.2f}"
        )
    other = cpu - sum(clock.cpu.values())
    print(f"    {'(around)':10s} CPU {other * 1000 / n:6.2f} ms/trace   (claim, marks: pipeline_run itself)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--traces", type=int, default=510)
    p.add_argument("--batch", type=int, default=85)
    p.add_argument("--profile", type=int, default=0, help="cProfile's top N functions (0: no profile)")
    p.add_argument("--database-url", default="", help="a peekr_bench* PostgreSQL database (default: SQLite)")
    p.add_argument("--app-root", type=Path, default=ROOT)
    args = p.parse_args()
    args.app_root = args.app_root.resolve()
    setup(args)
    try:
        from django.db import connection

        pks = traces_make(args.traces)
        print(f"{len(pks)} bench traces, batches of {args.batch}, {connection.vendor}, code {args.app_root}")
        clock = StageClock()
        for label in ("first run", "again (scores exist)"):
            clock.cpu.clear()
            clock.wall.clear()
            report(label, clock, *run_batches(pks, args.batch), len(pks))
        clock.restore()
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU: waits on the database are not the worker's
            profiler.enable()
            run_batches(pks, args.batch)
            profiler.disable()
            for key in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.profile)
                print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:20000])
    finally:
        from django.db import connections

        connections.close_all()
        if args.database_url:
            import eval_overhead as eo

            eo.drop_database(args.database_url)
        import shutil

        shutil.rmtree(args.data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
