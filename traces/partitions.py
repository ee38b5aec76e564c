"""The time partitions of traces_span on PostgreSQL (native declarative partitioning, RANGE on start_time; the
table is converted by migration 0012). Ranges and names are traces/retention.py's; this module only runs DDL.

- partitions_ensure: the current partition and PARTITIONS_AHEAD after it exist (beat, daily, through the
  retention job). A partition is created standalone and then ATTACHed: ATTACH locks the parent with SHARE UPDATE
  EXCLUSIVE, which ingest's inserts do not wait for (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE).
  Rows that landed in the default partition for its range (a client clock far ahead) are moved into it first:
  ATTACH refuses while the default holds rows of the new range.
- partition_drop: DETACH then DROP (instant, whatever the row count). DETACH takes ACCESS EXCLUSIVE on the
  parent for an instant; CONCURRENTLY is refused while a default partition exists. Both run under a
  lock_timeout, so a long query holding the table makes the job try again on its next run rather than queue
  ingest behind it.
- The default partition takes what falls outside every range (times before the oldest partition, or past
  the newest): a COPY of a span with such a time would otherwise fail its whole batch.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.db import connection, transaction

from traces.retention import DEFAULT_PARTITION, SPAN_TABLE, partitions_wanted

log = logging.getLogger(__name__)

LOCK_TIMEOUT = "5s"
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [SPAN_TABLE])
        row = cursor.fetchone()
    return bool(row and row[0] == "p")


def partitions_list() -> list[tuple[str, datetime, datetime]]:
    """(name, lo, hi) of traces_span's range partitions, oldest first (the default partition is not listed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [SPAN_TABLE],
        )
        rows = cursor.fetchall()
    out = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            out.append((name, datetime.fromisoformat(match[1]), datetime.fromisoformat(match[2])))
    return sorted(out, key=lambda p: p[1])


def partition_create(name: str, lo: datetime, hi: datetime) -> int:
    """Create and attach one partition; returns the rows moved into it from the default partition."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(
            f"CREATE TABLE {quote(name)} (LIKE {quote(SPAN_TABLE)} INCLUDING DEFAULTS INCLUDING STORAGE "
            "INCLUDING COMPRESSION)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {quote(DEFAULT_PARTITION)} WHERE start_time >= %s AND start_time < %s "
            f"RETURNING *) INSERT INTO {quote(name)} SELECT * FROM moved",
            [lo, hi],
        )
        moved = cursor.rowcount
        cursor.execute(
            f"ALTER TABLE {quote(SPAN_TABLE)} ATTACH PARTITION {quote(name)} "
            f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
        )
    log.info("retention: created partition %s [%s, %s), %d rows moved from the default partition", name, lo, hi, moved)
    return moved


def partitions_ensure(now: datetime, *, start: datetime | None = None) -> list[str]:
    """Create the partitions from ``start`` (default: the current one) to PARTITIONS_AHEAD ahead of ``now`` that do
    not exist yet; returns their names. Idempotent."""
    from traces.retention import partitions_between

    have = {name for name, _, _ in partitions_list()}
    wanted = partitions_wanted(now) if start is None else partitions_between(start, partitions_wanted(now)[-1][1])
    created = []
    for name, lo, hi in wanted:
        if name not in have:
            partition_create(name, lo, hi)
            created.append(name)
    return created


def partition_rows(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")
        return cursor.fetchone()[0]


def partition_drop(name: str) -> None:
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        # Foreign key checks deferred to the commit of an enclosing transaction would block the DROP ("pending
        # trigger events"): run them now, then defer again (Django's constraints are INITIALLY DEFERRED).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {quote(SPAN_TABLE)} DETACH PARTITION {quote(name)}")
        cursor.execute(f"DROP TABLE {quote(name)}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    log.info("retention: dropped partition %s", name)
