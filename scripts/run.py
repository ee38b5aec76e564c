"""`make run`: migrate, set up the admin and demo project, start gunicorn + a Celery worker, send demo traffic.

Stays in the foreground; Ctrl-C (or SIGTERM) stops the web server and the worker cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
os.chdir(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peekr_web.settings")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PORT = int(os.environ.get("PEEKR_PORT", "8000"))
URL = f"http://127.0.0.1:{PORT}"


def manage(*args: str, capture: bool = False) -> str:
    out = subprocess.run([PY, "manage.py", *args], check=True, text=True, capture_output=capture)
    return out.stdout if capture else ""


def wait_healthy(procs: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        for p in procs:
            if p.poll() is not None:
                sys.exit(f"peekr: {p.args[0]} exited with {p.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"{URL}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001
            last = str(exc)
        time.sleep(0.5)
    sys.exit(f"peekr: the web server did not become healthy in {timeout:.0f}s ({last})")


def main() -> None:
    manage("migrate", "--noinput", "-v", "0")
    setup = manage("peekr_setup", capture=True)
    print(setup, end="")
    demo_key = next(line.split(": ", 1)[1] for line in setup.splitlines() if line.startswith("demo key: "))

    web = subprocess.Popen(
        [
            PY, "-m", "gunicorn", "peekr_web.wsgi",
            "--bind", f"0.0.0.0:{PORT}",
            "--workers", os.environ.get("PEEKR_WEB_WORKERS", "2"),
            "--threads", "4",
            "--timeout", "60",
            "--graceful-timeout", "10",
            "--access-logfile", "-" if os.environ.get("PEEKR_ACCESS_LOG") else "/dev/null",
        ]
    )  # fmt: skip
    worker = subprocess.Popen(
        [
            PY, "-m", "celery", "-A", "peekr_web", "worker", "--beat",
            "--loglevel", os.environ.get("PEEKR_WORKER_LOG_LEVEL", "WARNING"),
            "--concurrency", os.environ.get("PEEKR_WORKER_CONCURRENCY", "2"),
            "--schedule", str(Path(os.environ.get("PEEKR_DATA_DIR", ROOT / "var")) / "celerybeat-schedule"),
        ]
    )  # fmt: skip
    children = [web, worker]

    def stop(signum=None, frame=None) -> None:
        print("\npeekr: stopping the web server and the worker...", flush=True)
        for p in children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # gunicorn and celery both shut down gracefully on TERM
        for p in children:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    wait_healthy(children)
    if os.environ.get("PEEKR_DEMO", "1") not in ("0", "false", "no"):
        manage("peekr_demo", "--endpoint", URL, "--key", demo_key)
    print(f"\nPeekr is running at {URL}/  (API docs: {URL}/api/docs). Ctrl-C stops it.", flush=True)
    while True:
        for p in children:
            if p.poll() is not None:
                print(f"peekr: {p.args[2]} exited with {p.returncode}; stopping.", flush=True)
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
