"""`make run` (scripts/run.py) for real: it starts, prints the login once, and when its Celery worker is killed it
says so and starts another while the web server keeps answering; SIGTERM then stops everything."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> dict[int, str]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
    return found


def celery_child(pid: int) -> int | None:
    """The pipeline worker (queue celery), not the judge worker."""
    return next((p for p, cmd in children_of(pid).items() if " celery " in cmd and "pipeline@" in cmd), None)


class Output:
    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "".join(self.lines))


def test_make_run_restarts_a_killed_worker_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEEKR_")}
    env.update(PEEKR_DATA_DIR=str(tmp_path), PEEKR_PORT=str(port), PEEKR_DEMO="0", PEEKR_WEB_WORKERS="1",
               PEEKR_WORKER_CONCURRENCY="1", PYTHONUNBUFFERED="1")  # fmt: skip
    run = subprocess.Popen(
        [sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(run)
    try:
        out.wait_for(r"^login: admin / \S+", timeout=120)  # the first start prints the password
        out.wait_for(rf"Peekr is running at http://127\.0\.0\.1:{port}/", timeout=120)
        first = celery_child(run.pid)
        assert first is not None

        pool = list(children_of(first))  # its prefork children: an OOM kill takes them too, and none may linger
        for pid in (first, *pool):
            os.kill(pid, signal.SIGKILL)

        out.wait_for(r"^peekr: worker exited with code -9; restarting", timeout=20)
        deadline = time.monotonic() + 20
        while celery_child(run.pid) in (None, first) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert celery_child(run.pid) not in (None, first)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200  # the web server was never stopped
    finally:
        started = set(children_of(run.pid))
        run.send_signal(signal.SIGTERM)
        code = run.wait(timeout=60)
    assert code == 0
    assert len(started) == 4  # gunicorn, the pipeline worker, the judge worker and the gRPC receiver, all stopped
    assert [pid for pid in started if Path(f"/proc/{pid}").exists()] == []
