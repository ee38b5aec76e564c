"""PostgreSQL stopped in the middle of a load: exporters get 503 + Retry-After, retry, and nothing acknowledged is lost.

    .venv/bin/python bench/outage.py                      # 4 exporters for 40 s; PostgreSQL down from 10 s to 20 s

It starts gunicorn as the ingest bench does (make run's shape: 2 workers x 4 threads) on `peekr_bench_outage`
(recreated; Redis db 12 as the broker, no worker), sends bench/ingest.py's traces from exporters that retry
429/503 after Retry-After as OTLP exporters do (bench/overload.py), stops the local PostgreSQL cluster
(`pg_ctlcluster <version> main stop -m fast`) for --down-seconds, starts it again, and prints every status
answered (with its Content-Type and Retry-After), the spans acknowledged and the span rows stored: they must
be equal. It restarts PostgreSQL whatever happens. Traffic goes to 127.0.0.1 only; it never asserts.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # noqa: E402
import overload  # noqa: E402

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_outage"
BROKER_URL = "redis://127.0.0.1:6379/12"


def cluster() -> str:
    return sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]


def postgres(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", cluster(), "main", action, *(["-m", "fast"] if action == "stop" else [])],
        check=True,
    )  # fmt: skip
    if action == "start":
        ingest.ensure_postgres(DATABASE_URL)


class Answers:
    """Every answer the exporters got: status, Content-Type, Retry-After."""

    def __init__(self) -> None:
        self.seen: collections.Counter = collections.Counter()
        self.lock = threading.Lock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40, help="the load's bound (default 40 s)")
    parser.add_argument("--down-at", type=float, default=10, help="stop PostgreSQL this long into the load")
    parser.add_argument("--down-seconds", type=float, default=10)
    args = parser.parse_args()

    ingest.ensure_postgres(DATABASE_URL)
    ingest.recreate_database(DATABASE_URL)
    ingest.check_redis(BROKER_URL).flushdb()
    log_dir = Path(tempfile.mkdtemp(prefix="peekr-outage-"))
    env = {"DJANGO_SETTINGS_MODULE": "peekr_web.settings", "PEEKR_DATABASE_URL": DATABASE_URL,
           "PEEKR_BROKER_URL": BROKER_URL, "PEEKR_DATA_DIR": str(log_dir),
           "PEEKR_LOG_LEVEL": "ERROR", "PEEKR_DB_CONN_MAX_AGE": "60"}  # fmt: skip
    ingest.setup_django(env)
    from traces.services import project_create

    project, key = project_create(name=f"outage-{time.time_ns()}")
    workload = ingest.Workload.build(30_000)
    plans = overload.plan_bodies(workload, args.senders, rounds=3)
    server = ingest.Server(env, workers=2, threads=4, log=log_dir / "gunicorn.log")
    result = overload.OverloadResult(limit=0, senders=args.senders, bodies=0, offered_spans=0)
    answers = Answers()
    original_post = overload.post_once

    def recording_post(port, body, headers):
        conn = overload.http.client.HTTPConnection("127.0.0.1", port, timeout=overload.CLIENT_TIMEOUT_S)
        began = time.perf_counter()
        try:
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            kind = (response.getheader("Content-Type") or "").split(";")[0]
            retry = response.getheader("Retry-After") or ""
            with answers.lock:
                answers.seen[(response.status, kind, bool(retry))] += 1
            return response.status, retry, (time.perf_counter() - began) * 1000
        finally:
            conn.close()

    overload.post_once = recording_post
    try:
        server.wait_ready()
        deadline, lock = time.monotonic() + args.seconds, threading.Lock()
        threads = [
            threading.Thread(target=overload.send_as_exporter, args=(server.port, key, plan, deadline, result, lock))
            for plan in plans[: args.senders]
        ]
        for thread in threads:
            thread.start()
        time.sleep(args.down_at)
        stopped = time.monotonic()
        postgres("stop")
        time.sleep(args.down_seconds)
        postgres("start")
        print(f"PostgreSQL was down for {time.monotonic() - stopped:.1f} s")
        for thread in threads:
            thread.join(timeout=args.seconds + 60)
    finally:
        overload.post_once = original_post
        with contextlib.suppress(subprocess.CalledProcessError):  # already running
            postgres("start")
        server.stop()
    from django.db import connection

    connection.close()  # the restart ended this process's connection too
    stored = overload.stored_when_settled(project)
    print(f"answers (status, content type, Retry-After present): {dict(answers.seen)}")
    print(f"timeouts {result.timeouts}, errors {result.errors[:5]}")
    print(f"spans acknowledged {result.accepted_spans:,}, span rows stored {stored:,}: "
          f"{'equal' if stored == result.accepted_spans else 'DIFFERENT'}")  # fmt: skip


if __name__ == "__main__":
    main()
