"""Django's SQLite backend, whose write transactions take their turn first (traces/write_queue.py).

Every outermost atomic() BEGINs IMMEDIATE (settings: transaction_mode), i.e. takes SQLite's write lock. Before
that BEGIN this backend takes the write turn (one thread per process, one process at a time), and gives it back
at COMMIT, ROLLBACK or close, so writers queue and hand over in milliseconds instead of polling on the busy
timeout. Statements outside atomic() (autocommit) do not queue: they are single statements, and still have the
busy timeout. In-memory databases have a single process and skip it.
"""

from __future__ import annotations

from django.db.backends.sqlite3 import base

from traces import write_queue


class DatabaseWrapper(base.DatabaseWrapper):
    _write_turn: str | None = None  # the database file whose turn this connection holds

    def _queue_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or not name:
            return None
        return name

    def _start_transaction_under_autocommit(self):
        path = self._queue_path()
        if path is None or self._write_turn is not None:
            return super()._start_transaction_under_autocommit()
        write_queue.acquire(path, timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5)))
        self._write_turn = path
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._give_turn_back()
            raise

    def _give_turn_back(self) -> None:
        path, self._write_turn = self._write_turn, None
        if path is not None:
            write_queue.release(path)

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._give_turn_back()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._give_turn_back()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._give_turn_back()
