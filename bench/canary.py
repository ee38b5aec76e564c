"""Canary comparison: candidate vs baseline, 1,000,000 traces each, answered from the rollups.

    .venv/bin/python bench/canary.py                        # SQLite in a temporary folder (the laptop default)
    PEEKR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/peekr_bench_canary .venv/bin/python bench/canary.py

On PostgreSQL the database must be named peekr_bench*: it is dropped, created and migrated (and dropped at the
end). In-process. Rollup rows are written directly, as bench/rollups.py does (hour rows and their day rows):
--days of traffic, each release --traces per release spread evenly (1,000,000 over 30 days = 1,389 an hour), on
the dimensions "all", "release" (baseline and candidate, half each, plus 3 older releases), "model", "intent" and
"shadow_release" (a shadow candidate of the same size). Blocking: json_valid (deterministic) and faithfulness
(semantic). Then releases.selectors.compare and GET /api/v1/releases/compare over 24 h, 7 d and 30 d windows:
median and max of 7 runs each. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import rollups  # noqa: E402  (bench/rollups.py: setup() and realistic hour data)


def write_rollups(project, *, traces: int, days: int, now: datetime) -> int:
    from django.db import connection

    from metrics.accumulators import data_add
    from metrics.contribution import DAY_PREFIX, SHADOW_DIM
    from metrics.models import Rollup

    rng = random.Random(3)
    per_hour = traces // (days * 24)
    dims = [("all", "", 1.0), ("release", "2.0.0", 0.5), ("release", "2.1.0", 0.5)]
    dims += [("release", f"1.{i}.0", 0.01) for i in range(3)]
    dims += [("model", m, s) for m, s in (("gpt-4o", 0.5), ("gpt-4o-mini", 0.5))]
    dims += [("intent", f"intent-{i}", 0.1) for i in range(10)]
    dims += [(SHADOW_DIM, "2.2.0", 0.5)]
    templates = [rollups._hour_data(rng, per_hour) for _ in range(24)]
    for t in templates:  # a deterministic check passes on every answer
        t["pass:json_valid"] = [t["pass:json_valid"][1], t["pass:json_valid"][1], t["pass:json_valid"][1]]
    day_data: dict = {}
    for template in templates:
        day_data = data_add(day_data, template)
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    rows, written = [], 0
    for h in range(days * 24 + 1):
        hour = first + timedelta(hours=h)
        for dim, value, share in dims:
            # "all" holds every release: each of the two compared ones is half of it, --traces over the period
            n = max(int(per_hour * 2 * share), 1)
            rows.append(Rollup(project=project, dim=dim, value=value, hour=hour, traces=n, data=templates[h % 24]))
        if h % 24 == 23:
            day = hour.replace(hour=0)
            for dim, value, share in dims:
                n = max(int(per_hour * 2 * share), 1) * 24
                rows.append(Rollup(project=project, dim=DAY_PREFIX + dim, value=value, hour=day, traces=n,
                                   data=day_data))  # fmt: skip
        if len(rows) >= 5000:
            Rollup.objects.bulk_create(rows)
            written += len(rows)
            rows = []
    Rollup.objects.bulk_create(rows)
    written += len(rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE metrics_rollup")
    return written


def timed(fn, runs: int = 7) -> tuple[float, float, object]:
    out, times = None, []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=1_000_000, help="traces per compared release")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    backend, url = rollups.setup()
    from django.db import connection
    from django.test import Client

    from evals.models import EvalRule
    from evals.modes import rule_mode_set
    from evals.services import rules_for_project
    from releases import selectors, verdict
    from tests.base import make_project

    version = connection.cursor().connection.info.server_version if backend == "PostgreSQL" else ""
    print(f"Peekr canary benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.system()} "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {backend} {version}")  # fmt: skip
    now = datetime.now(UTC)
    try:
        project, key = make_project("bench-canary")
        builtin = next(r for r in rules_for_project(project=project) if r.is_builtin)
        rule_mode_set(rule=builtin, mode="blocking", evaluator="json_valid", actor="bench")
        EvalRule.objects.create(project=project, name="faithfulness gate", evaluators=["faithfulness"],
                                sample_rate=0.0, mode="blocking", evaluator_modes={"faithfulness": "blocking"})  # fmt: skip
        t0 = time.perf_counter()
        written = write_rollups(project, traces=args.traces, days=args.days, now=now)
        print(f"{written:,} rollup rows for {args.traces:,} traces per compared release over {args.days} days, "
              f"written in {time.perf_counter() - t0:.0f} s")  # fmt: skip
        client = Client(HTTP_HOST="localhost")
        auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
        for candidate, label in (("2.1.0", "canary (production)"), ("2.2.0", "shadow")):
            for window in ("24h", "7d", "30d"):
                w = verdict.parse_window(window)
                med, worst, out = timed(
                    lambda c=candidate, w=w: selectors.compare(
                        project=project, baseline="2.0.0", candidate=c, window=w, now=now
                    )
                )
                path = f"/api/v1/releases/compare?baseline=2.0.0&candidate={candidate}&window={window}"
                api_med, api_worst, resp = timed(lambda p=path: client.get(p, **auth))
                assert resp.status_code == 200, resp.content
                print(f"  {label:<20} {window:>4}: {out['candidate']['traces']:>9,} vs {out['baseline']['traces']:>9,} "
                      f"traces, verdict {out['verdict']['status']:<4}  compare() median {med:6.1f} ms (max "
                      f"{worst:6.1f})   API median {api_med:6.1f} ms (max {api_worst:6.1f})")  # fmt: skip
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
