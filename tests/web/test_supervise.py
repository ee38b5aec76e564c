"""`make run`'s supervisor (scripts/supervise.py) with real child processes: an exited worker is restarted and it
says so; a worker that keeps exiting at once is restarted after a growing pause; the web server's exit stops all."""

import sys
import time

from scripts.supervise import Child, restart_delay, stop_all, supervise_step

PY = sys.executable


def child(name: str, code: str, restartable: bool) -> Child:
    c = Child(name, [PY, "-c", code], restartable=restartable)
    c.start()
    return c


def run_until(children, done, timeout: float = 15) -> list[str]:
    logged: list[str] = []
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        assert supervise_step(children, logged.append) is None
        time.sleep(0.05)
    assert done(), logged
    return logged


def test_a_worker_that_exits_is_restarted_and_the_log_says_so():
    web = child("web server", "import time; time.sleep(60)", restartable=False)
    worker = child("worker", "import sys; sys.exit(3)", restartable=True)
    first_pid = worker.proc.pid
    try:
        logged = run_until([web, worker], lambda: worker.restarts == 2)

        assert logged[:2] == [
            "peekr: worker exited with code 3; restarting in 1 s",  # it exited at once: a pause, growing
            "peekr: worker exited with code 3; restarting in 2 s",
        ]
        assert worker.proc.pid != first_pid
        assert web.proc.poll() is None  # the web server was left alone
    finally:
        stop_all([web, worker], timeout=5)


def test_the_pause_grows_while_it_keeps_exiting_at_once_and_is_none_after_a_long_run():
    assert [restart_delay(n) for n in range(8)] == [0, 1, 2, 4, 8, 16, 30, 30]


def test_the_web_server_exiting_is_reported_and_stop_all_ends_the_worker():
    web = child("web server", "import sys; sys.exit(0)", restartable=False)
    worker = child("worker", "import time; time.sleep(60)", restartable=True)
    web.proc.wait(timeout=10)

    logged: list[str] = []
    assert supervise_step([web, worker], logged.append) is web
    stop_all([web, worker], timeout=5)

    assert logged == ["peekr: web server exited with code 0; stopping."]
    assert worker.proc.returncode == -15  # TERM: celery and gunicorn shut down gracefully on it


def test_stop_all_kills_what_ignores_term(tmp_path):
    ready = tmp_path / "ready"
    stubborn = child(
        "worker",
        f"import signal, time, pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)",
        restartable=True,
    )
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    began = time.monotonic()
    stop_all([stubborn], timeout=0.5)

    assert stubborn.proc.returncode == -9
    assert time.monotonic() - began < 5
