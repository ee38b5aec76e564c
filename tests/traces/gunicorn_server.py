"""A real gunicorn (gthread, one worker) serving peekr_web on 127.0.0.1, for what only a real server shows:
chunked request bodies, concurrent requests, a database that does not answer."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.base import stop_process_group


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn_server(env: dict[str, str], log_dir: Path, threads: int = 4) -> Iterator[int]:
    """Start gunicorn with env (which names the database), wait until it answers HTTP, yield its port."""
    port = free_port()
    log_path = log_dir / f"gunicorn-{os.getpid()}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "peekr_web.wsgi", "--workers=1", f"--threads={threads}",
             f"--bind=127.0.0.1:{port}", "--timeout=60", "--graceful-timeout=5"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its worker too
        )  # fmt: skip
    try:
        _wait_answering(proc, port, log_path)
        yield port
    finally:
        stop_process_group(proc)


def _wait_answering(proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 60) -> None:
    # Any HTTP answer will do (healthz says 503 when the database is down): the worker has loaded the app.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on port {port}:\n{log_path.read_text()[-3000:]}")
