"""The bench environment that bench/ingest.py, bench/retention.py and bench/eval_overhead.py share: a database of
the bench's own (PostgreSQL `peekr_bench*`, dropped and created again, or SQLite, the laptop default, in a fresh
data directory), a Celery broker (Redis, a bench-only db flushed before and after; the filesystem broker with
SQLite), a temporary data directory, the environment a server process needs, and Django set up and migrated in
this process.

    bench = prepare(database_url=..., broker_url=..., prefix="peekr-bench-", extra={"PEEKR_...": "..."})
    try:
        ...  # bench.env for gunicorn / workers, bench.data_dir for logs
    finally:
        bench.close()

``database_url="sqlite"`` means SQLite in the data directory with the filesystem broker (the broker URL is then
ignored), exactly as `make run` on a laptop.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

SQLITE = "sqlite"


def ensure_postgres(url: str) -> None:
    import psycopg

    maintenance = urllib.parse.urlparse(url)._replace(path="/postgres").geturl()
    for attempt in range(30):
        try:
            psycopg.connect(maintenance, connect_timeout=3).close()
            return
        except psycopg.OperationalError:
            if attempt == 0 and shutil.which("pg_ctlcluster"):
                versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
                if versions:
                    print(f"PostgreSQL is down: starting cluster {versions[-1]}/main")
                    subprocess.run(
                        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False
                    )
            time.sleep(0.5)
    sys.exit(f"cannot connect to PostgreSQL at {maintenance}")


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urllib.parse.urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.startswith("peekr_bench"):  # it drops the database: never anything but the bench's own
        sys.exit(f"refusing to recreate database {name!r}: the bench only drops databases named peekr_bench*")
    maintenance = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def check_redis(url: str):
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        sys.exit(f"cannot reach the Celery broker at {url}: {exc}")
    return client


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    after = os.environ.get("PEEKR_BENCH_AFTER_MIGRATE_SQL", "")
    if after:  # an experiment on the database's settings (e.g. an index's storage parameters), PostgreSQL only
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(after)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_version() -> str:
    """ "PostgreSQL 15.4" or "SQLite 3.45.1", from the connection Django set up."""
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SHOW server_version")
            return "PostgreSQL " + cur.fetchone()[0].split()[0]
        cur.execute("SELECT sqlite_version()")
        return "SQLite " + cur.fetchone()[0]


@dataclass
class BenchEnv:
    env: dict[str, str]  # for the processes the bench starts (gunicorn, Celery workers), and this one
    data_dir: Path
    database_url: str  # SQLITE or a postgres:// URL
    redis: object | None = None  # the Redis client of the broker's db, or None (filesystem broker)

    @property
    def sqlite(self) -> bool:
        return self.database_url == SQLITE

    def close(self, keep_data_dir: bool = False) -> None:
        if self.redis is not None:
            self.redis.flushdb()
        if not keep_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def prepare(
    *,
    database_url: str,
    broker_url: str,
    prefix: str = "peekr-bench-",
    extra: dict[str, str] | None = None,
    django: bool = True,
) -> BenchEnv:
    """A fresh database, broker and data directory, the env for the bench's processes, and (``django``) Django
    set up and migrated in this process."""
    sqlite = database_url == SQLITE or database_url.startswith("sqlite")
    redis_client = None
    if not sqlite:
        ensure_postgres(database_url)
        recreate_database(database_url)
        redis_client = check_redis(broker_url)
        redis_client.flushdb()
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    env = {
        "DJANGO_SETTINGS_MODULE": "peekr_web.settings",
        "PEEKR_DATA_DIR": str(data_dir),
        "PEEKR_LOG_LEVEL": "WARNING",
        "PEEKR_DEBUG": "0",
        **(extra or {}),
    }
    if sqlite:  # the laptop default: both live in the data directory; none of the caller's may leak in
        os.environ.pop("PEEKR_DATABASE_URL", None)
        os.environ.pop("PEEKR_BROKER_URL", None)
    else:
        env["PEEKR_DATABASE_URL"] = database_url
        env["PEEKR_BROKER_URL"] = broker_url
    bench = BenchEnv(env=env, data_dir=data_dir, database_url=SQLITE if sqlite else database_url, redis=redis_client)
    if django:
        setup_django(env)
    return bench
