"""SQLite's writers, one at a time on purpose and in order of arrival: a write queue per process, and tickets
across processes.

SQLite lets one transaction write at a time. Left to itself (BEGIN IMMEDIATE + busy_timeout), every waiting
writer polls the lock with growing sleeps (up to 100 ms each) and the first to look wins, so a writer can lose
again and again: with 4 senders a 512-span request waited up to 5 s (bench/ingest.py --explain: in BEGIN). Here
a write transaction first takes its turn:

- within a process, its threads queue on one lock;
- across processes (gunicorn's workers, the Celery worker that settles traces and writes evaluations), the
  thread at the head of its process's queue draws a ticket from a counter in ``<database>-writequeue`` and
  waits until the counter being served reaches it; the turn itself is an exclusive flock on
  ``<database>-writelock``, so two writers never overlap whatever the tickets say. First come, first served: with n writers waiting, a turn
  comes within n turns, and the worker gets its turn like everyone else.

A ticket whose holder went away (a process killed while waiting, a waiter that timed out) is skipped once the
turn has stayed free for SKIP_AFTER with nobody claiming it; a waiter that finds its ticket skipped (it was
descheduled that long) draws a new one. Only then does the transaction BEGIN (IMMEDIATE), and the turn is given
back at COMMIT or ROLLBACK. Everything slow that needs no lock (decoding, normalising, building the rows)
happens before, outside the turn. Waiting longer than the busy timeout raises SQLite's own
``OperationalError("database is locked")``, which the receivers answer 503 + Retry-After as before.

The turn is taken by the SQLite backend (``peekr_web/queued_sqlite3/base.py``) for every outermost ``atomic()``,
so no caller needs to know; PostgreSQL has row locks and none of this.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
from dataclasses import dataclass, field

from django.db import OperationalError

POLL_FIRST, POLL_MAX = 0.0002, 0.002  # seconds between looks at the counter
SKIP_AFTER = 0.25  # an unclaimed ticket with the file unlocked this long is skipped
_STATE = struct.Struct("<QQ")  # in <database>-writequeue: next ticket to hand out, ticket being served


@dataclass
class _Queue:
    path: str  # the database file
    lock: threading.Lock = field(default_factory=threading.Lock)  # this process's queue
    fds: tuple[int, int] = (-1, -1)  # <database>-writelock (the turn), <database>-writequeue (the tickets)
    pid: int = 0  # the process that opened them: a forked child (Celery's pool) opens its own

    def files(self) -> tuple[int, int]:
        if self.fds[0] < 0 or self.pid != os.getpid():
            flags = os.O_RDWR | os.O_CREAT
            self.fds = (
                os.open(self.path + "-writelock", flags, 0o600),
                os.open(self.path + "-writequeue", flags, 0o600),
            )
            self.pid = os.getpid()
        return self.fds


_queues: dict[str, _Queue] = {}
_queues_lock = threading.Lock()


def _queue(database: str) -> _Queue:
    with _queues_lock:
        queue = _queues.get(database)
        if queue is None:
            queue = _queues[database] = _Queue(path=database)
        return queue


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _tickets(fd: int, change=None) -> tuple[int, int]:
    """(next ticket to hand out, ticket being served), read and, with ``change(next, serving) -> (next,
    serving)``, moved under the queue file's flock (held for microseconds)."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        data = os.pread(fd, _STATE.size, 0)
        state = _STATE.unpack(data) if len(data) == _STATE.size else (0, 0)
        if change is not None:
            new = change(*state)
            os.pwrite(fd, _STATE.pack(*new), 0)
        return state
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _draw(qfd: int) -> int:
    return _tickets(qfd, lambda next_ticket, serving: (next_ticket + 1, serving))[0]


def _wait_turn(queue: _Queue, timeout: float) -> None:
    """Block until this thread holds its process's queue and the cross-process turn (bench/ingest.py --explain
    times this function)."""
    deadline = time.monotonic() + timeout
    if not queue.lock.acquire(timeout=max(0.0, timeout)):
        raise OperationalError("database is locked (waited for this process's write queue)")
    try:
        fd, qfd = queue.files()
        ticket, pause, seen, idle_since = _draw(qfd), POLL_FIRST, -1, 0.0
        while True:
            serving = _tickets(qfd)[1]
            if serving == ticket:
                if _try_lock(fd):
                    return  # the flock stays held: this is the turn
            elif serving > ticket:  # skipped while descheduled: back in the queue
                ticket, seen = _draw(qfd), -1
                continue
            elif _try_lock(fd):  # nobody writing, and not my turn yet: is that ticket's holder still there?
                fcntl.flock(fd, fcntl.LOCK_UN)
                now = time.monotonic()
                if serving != seen:
                    seen, idle_since = serving, now
                elif now - idle_since >= SKIP_AFTER:  # went away (killed, timed out): skip its ticket
                    _tickets(qfd, lambda n, s, stale=serving: (n, s + 1 if s == stale else s))
                    seen = -1
            else:
                seen = -1  # a turn in progress is no stall
            if time.monotonic() >= deadline:
                raise OperationalError("database is locked (waited for another process's write)")
            time.sleep(pause)
            pause = min(POLL_MAX, pause * 2)
    except BaseException:
        queue.lock.release()
        raise


def acquire(database: str, timeout: float) -> None:
    """Take the write turn for ``database`` (a file path); give it back with release()."""
    _wait_turn(_queue(database), timeout)


def release(database: str) -> None:
    queue = _queue(database)
    fd, qfd = queue.files()
    try:
        _tickets(qfd, lambda next_ticket, serving: (next_ticket, serving + 1))
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        queue.lock.release()


def sqlite_upsert(model, rows: list[dict], *, conflict: tuple[str, ...], update, dump) -> None:
    """SQLite: insert or update ``rows`` (dicts by attname; a missing field takes its default) in one
    executemany INSERT ... ON CONFLICT (``conflict`` columns) DO UPDATE (the ``update`` fields), JSON through
    ``dump``. The ORM's bulk_create built a model instance and adapted every value one call at a time: most of
    the time a write turn lasted."""
    from django.db import connection

    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    update = {model._meta.get_field(name).column for name in update}
    json_fields = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
    adapt_datetime = connection.ops.adapt_datetimefield_value
    datetime_fields = {f.attname for f in fields if f.get_internal_type() == "DateTimeField"}
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in rows[0]}

    def json_value(value):  # None is SQL NULL, as the ORM stores it
        return None if value is None else dump(value)

    convert = [
        (
            f.attname,
            json_value if f.attname in json_fields else adapt_datetime if f.attname in datetime_fields else None,
        )
        for f in fields
    ]
    params = []
    for row in rows:
        row = {**defaults, **row} if defaults else row
        params.append([fn(row[name]) if fn is not None else row[name] for name, fn in convert])
    cols = ", ".join(quote(f.column) for f in fields)
    sets = ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in fields if f.column in update)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({cols}) VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO UPDATE SET {sets}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
