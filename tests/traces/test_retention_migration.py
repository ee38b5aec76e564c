"""PostgreSQL: migration 0013 converts an existing traces_span (rows, ids, the foreign keys on it) into the
partitioned table, and back. Run on a database of its own, through manage.py as an operator would."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# Seeded through the models as the applied migrations left them (later migrations add columns to these tables).
SEED = """
from datetime import UTC, datetime, timedelta
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
loader = MigrationExecutor(connection).loader
apps = loader.project_state(list(loader.applied_migrations)).apps
Project, Span, Trace = (apps.get_model("traces", name) for name in ("Project", "Span", "Trace"))
Score = apps.get_model("evals", "Score")
p = Project.objects.create(name="old")
t0 = datetime.now(UTC) - timedelta(days=20)
for k in range(3):
    t = Trace.objects.create(project=p, trace_id=f"{k:032x}", start_time=t0 + timedelta(days=k * 8))
    for j in range(4):
        s = Span.objects.create(project=p, trace=t, span_id=f"{k:08x}{j:08x}", name=f"s{j}",
                                start_time=t0 + timedelta(days=k * 8, seconds=j), input_text="kept")
    Score.objects.create(project=p, trace=t, span=s, target_key=f"span:{s.pk}", evaluator="x", status="done")
Trace.objects.create(project=p, trace_id="f" * 32, start_time=datetime(2001, 1, 1, tzinfo=UTC))
Span.objects.create(project=p, trace=Trace.objects.get(trace_id="f" * 32), span_id="e" * 16, name="ancient",
                    start_time=datetime(2001, 1, 1, tzinfo=UTC))
print(max(Span.objects.values_list("pk", flat=True)))
"""


def manage(url: str, *args: str) -> str:
    env = {**os.environ, "PEEKR_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def one(conn, sql, params=()):
    return conn.execute(sql, params).fetchall()


@pytest.fixture
def scratch(db):
    if connection.vendor != "postgresql":
        pytest.skip("the conversion is PostgreSQL's")
    s = connection.settings_dict
    name = f"{s['NAME']}_mig"
    admin = dict(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None)
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    yield f"postgres://{auth}@{admin['host']}:{admin['port']}/{name}", dict(dbname=name, **admin)
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_existing_span_table_is_converted_and_back(scratch):
    url, params = scratch
    manage(url, "migrate", "--no-input")
    manage(url, "migrate", "traces", "0012", "--no-input")  # backwards: a plain table again, empty
    top = int(manage(url, "shell", "-c", SEED).split()[-1])

    with psycopg.connect(**params) as conn:
        assert one(conn, "SELECT relkind FROM pg_class WHERE relname = 'traces_span'") == [("r",)]
        assert one(conn, "SELECT count(*) FROM pg_constraint WHERE confrelid = 'traces_span'::regclass") == [(2,)]
    manage(url, "migrate", "traces", "0013", "--no-input")

    with psycopg.connect(**params) as conn:
        assert one(conn, "SELECT relkind FROM pg_class WHERE relname = 'traces_span'") == [("p",)]
        assert one(conn, "SELECT count(*), max(id) FROM traces_span") == [(13, top)]
        assert one(conn, "SELECT count(*) FROM traces_span WHERE input_text = 'kept'") == [(12,)]
        assert one(conn, "SELECT tableoid::regclass::text FROM traces_span WHERE name = 'ancient'") == [
            ("traces_span_default",)
        ]  # older than 400 days: the default partition
        weeks = one(conn, "SELECT count(DISTINCT tableoid) FROM traces_span WHERE name <> 'ancient'")[0][0]
        assert weeks >= 3
        assert one(conn, "SELECT count(*) FROM pg_constraint WHERE confrelid = 'traces_span'::regclass") == [(0,)]
        indexes = {r[0] for r in one(conn, "SELECT indexname FROM pg_indexes WHERE tablename = 'traces_span'")}
        assert {"traces_span_pkey", "span_unique", "span_trace", "span_model"} <= indexes
        # new rows continue after the old ids
        new_id = one(conn, "SELECT nextval(pg_get_serial_sequence('traces_span', 'id'))")[0][0]
        assert new_id > top

    manage(url, "migrate", "traces", "0012", "--no-input")
    with psycopg.connect(**params) as conn:
        assert one(conn, "SELECT relkind FROM pg_class WHERE relname = 'traces_span'") == [("r",)]
        assert one(conn, "SELECT count(*), max(id) FROM traces_span") == [(13, top)]
        assert one(conn, "SELECT count(*) FROM pg_constraint WHERE confrelid = 'traces_span'::regclass") == [(2,)]
        assert one(conn, "SELECT count(*) FROM pg_inherits") == [(0,)]
