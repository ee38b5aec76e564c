"""Django's SQLite backend with Peekr's write queue: DATABASES ENGINE "peekr_web.queued_sqlite3" (see base.py)."""
