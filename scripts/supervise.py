"""The processes of `make run`: how gunicorn, the OTLP/gRPC receiver and the Celery workers are started, and a
small supervisor.

The workers and the gRPC receiver are restarted when they exit (a crash, the OOM killer, a lost broker): the web server keeps taking
spans meanwhile, and they wait in the broker. A worker that keeps exiting right after it starts is restarted
after a growing pause (1, 2, 4 ... 30 s), so a broken set-up does not spin. The web server is not restarted:
gunicorn's master already replaces its own workers, so its exit means something is wrong and `make run` stops.

No Django imports: run.py uses this before anything is configured.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

GUNICORN_CONF = Path(__file__).resolve().with_name("gunicorn_conf.py")
QUICK_EXIT_SECONDS = 10.0  # an exit this soon after starting counts towards the back-off
MAX_RESTART_DELAY = 30.0


def bind_address(host: str, port: int) -> str:
    """gunicorn's --bind value: IPv6 addresses go in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def local_url(host: str, port: int) -> str:
    """Where `make run` itself reaches the server (health check, demo traffic): a wildcard bind is reached on
    the loopback address."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{bind_address(host, port)}"


def gunicorn_argv(python: str, env: Mapping[str, str], data_dir: Path) -> list[str]:
    """Binds 127.0.0.1 unless PEEKR_BIND says otherwise; the control socket lives in the data dir, so two
    installs (or a test run beside `make run`) never share one."""
    host, port = env.get("PEEKR_BIND", "127.0.0.1"), int(env.get("PEEKR_PORT", "8000"))
    return [
        python, "-m", "gunicorn", "peekr_web.wsgi",
        "--bind", bind_address(host, port),
        "--control-socket", str(data_dir / "gunicorn.ctl"),
        "--config", str(GUNICORN_CONF),  # hooks: the boot objects frozen out of the garbage collector's way
        *web_shape(env),
        "--timeout", "60",
        "--graceful-timeout", "10",
        "--access-logfile", "-" if env.get("PEEKR_ACCESS_LOG") else "/dev/null",
    ]  # fmt: skip


def web_shape(env: Mapping[str, str]) -> list[str]:
    """gunicorn's workers x threads for ingest: processes, one request each, and a request only ever accepted by
    a process with a free thread.

    Ingest is CPU-bound Python; threads of one process share its GIL. With gthread's defaults a process accepts
    (and keeps alive) connections whatever its load, so with 4 senders on 2 x 4 one process served 2-3 of them
    at a third of the speed while another idled: that, not the database, was the p99 (bench/ingest.py
    --explain). Here --worker-connections = --threads: a busy process stops accepting, the next connection
    goes to an idle one (or waits in the kernel's accept queue, in order), and no connection is kept alive
    (--keep-alive 0): every request is placed anew. 2 processes per core (PEEKR_WEB_WORKERS,
    PEEKR_WEB_THREADS override), so one waiting on the database never leaves a core idle.
    """
    workers = env.get("PEEKR_WEB_WORKERS") or str(max(2, 2 * (os.cpu_count() or 1)))
    threads = env.get("PEEKR_WEB_THREADS") or "1"
    return ["--worker-class", "gthread", "--workers", workers, "--threads", threads, "--worker-connections", threads,
            "--keep-alive", "0"]  # fmt: skip


def worker_argv(python: str, env: Mapping[str, str], data_dir: Path) -> list[str]:
    """The pipeline worker: queue "celery" (settle, rules, detectors, routing; CPU-bound, prefork) and beat."""
    return [
        python, "-m", "celery", "-A", "peekr_web", "worker", "--beat", "-Q", "celery",
        "--hostname", "pipeline@%h",
        "--loglevel", env.get("PEEKR_WORKER_LOG_LEVEL", "WARNING"),
        "--concurrency", env.get("PEEKR_WORKER_CONCURRENCY", "2"),
        "--schedule", str(data_dir / "celerybeat-schedule"),
    ]  # fmt: skip


def judge_worker_argv(python: str, env: Mapping[str, str]) -> list[str]:
    """The judge worker: queue "judges" only. Judge calls wait on the network, so threads, not processes: many
    calls in flight for the memory of one process, and a slow judge never takes a pipeline worker's slot."""
    return [
        python, "-m", "celery", "-A", "peekr_web", "worker", "-Q", "judges",
        "--hostname", "judges@%h",
        "--pool", "threads", "--concurrency", env.get("PEEKR_JUDGE_WORKER_THREADS", "8"),
        "--loglevel", env.get("PEEKR_WORKER_LOG_LEVEL", "WARNING"),
    ]  # fmt: skip


def grpc_argv(python: str, env: Mapping[str, str]) -> list[str] | None:
    """The OTLP/gRPC receiver (traces/grpc_server.py) on PEEKR_GRPC_PORT (4317); None when it is 0 (off)."""
    if int(env.get("PEEKR_GRPC_PORT") or 4317) == 0:
        return None
    return [python, "manage.py", "peekr_grpc"]


def restart_delay(quick_exits: int) -> float:
    """No pause after an exit that followed a long run; then 1, 2, 4 ... 30 s while it keeps exiting at once."""
    return 0.0 if quick_exits <= 0 else min(MAX_RESTART_DELAY, 2.0 ** (quick_exits - 1))


@dataclass
class Child:
    name: str
    argv: list[str]
    restartable: bool  # restarted when it exits; otherwise its exit stops everything
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None  # set while an exited child waits out its back-off
    quick_exits: int = 0  # exits in a row, each within QUICK_EXIT_SECONDS of its start
    restarts: int = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv)
        self.started_at = time.monotonic()
        self.restart_at = None

    def restart(self) -> None:
        self.start()
        self.restarts += 1


def supervise_step(children: list[Child], log: Callable[[str], None]) -> Child | None:
    """Look at every child once: restart the restartable ones that exited (after their back-off); return a
    non-restartable child that exited (the caller then stops the rest), or None."""
    now = time.monotonic()
    for child in children:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restart()
            continue
        code = child.proc.poll()
        if code is None:
            continue
        if not child.restartable:
            log(f"peekr: {child.name} exited with code {code}; stopping.")
            return child
        child.quick_exits = child.quick_exits + 1 if now - child.started_at < QUICK_EXIT_SECONDS else 0
        delay = restart_delay(child.quick_exits)
        log(f"peekr: {child.name} exited with code {code}; restarting" + (f" in {delay:.0f} s" if delay else ""))
        child.restart_at = now + delay
        if not delay:
            child.restart()
    return None


def stop_all(children: list[Child], timeout: float = 20) -> None:
    """TERM every running child (gunicorn and celery both shut down gracefully on it), KILL what outlives
    the timeout."""
    running = [c.proc for c in children if c.proc is not None and c.restart_at is None and c.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
