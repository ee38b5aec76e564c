"""`make run`: migrate, set up the admin and demo project, start gunicorn, the OTLP/gRPC receiver and the Celery
workers, send demo traffic.

Stays in the foreground; Ctrl-C (or SIGTERM) stops the web server and the worker cleanly. The worker is
restarted if it exits (see supervise.py); the web server's exit stops both. The web server listens on
127.0.0.1 unless PEEKR_BIND says otherwise (e.g. PEEKR_BIND=0.0.0.0 to be reached from other machines).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from supervise import (
    Child,
    grpc_argv,
    gunicorn_argv,
    judge_worker_argv,
    local_url,
    stop_all,
    supervise_step,
    worker_argv,
)

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
os.chdir(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peekr_web.settings")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA_DIR = Path(os.environ.get("PEEKR_DATA_DIR", ROOT / "var")).resolve()
URL = local_url(os.environ.get("PEEKR_BIND", "127.0.0.1"), int(os.environ.get("PEEKR_PORT", "8000")))


def manage(*args: str, capture: bool = False) -> str:
    out = subprocess.run([PY, "manage.py", *args], check=True, text=True, capture_output=capture)
    return out.stdout if capture else ""


def log(message: str) -> None:
    print(message, flush=True)


def wait_healthy(children: list[Child], timeout: float = 60) -> str:
    """An empty string once /healthz answers 200, else why not."""
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        for child in children:
            if child.proc.poll() is not None:
                return f"peekr: {child.name} exited with {child.proc.returncode} during start-up"
        try:
            with urllib.request.urlopen(f"{URL}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return ""
        except urllib.error.HTTPError as exc:
            if exc.code == 400:  # Django refused the Host header
                return f"peekr: the web server refuses {URL}: add its host to PEEKR_ALLOWED_HOSTS"
            last = str(exc)
        except Exception as exc:  # noqa: BLE001
            last = str(exc)
        time.sleep(0.5)
    return f"peekr: the web server did not become healthy in {timeout:.0f}s ({last})"


def main() -> None:
    manage("migrate", "--noinput", "-v", "0")
    setup = manage("peekr_setup", capture=True)
    print(setup, end="")
    # The demo key is printed at the first start only (only its hash is kept): demo traffic goes with it.
    demo_key = next((line.split(": ", 1)[1] for line in setup.splitlines() if line.startswith("demo key: pk_")), "")

    web = Child("web server", gunicorn_argv(PY, os.environ, DATA_DIR), restartable=False)
    worker = Child("worker", worker_argv(PY, os.environ, DATA_DIR), restartable=True)
    judges = Child("judge worker", judge_worker_argv(PY, os.environ), restartable=True)
    children = [web, worker, judges]
    grpc = grpc_argv(PY, os.environ)
    if grpc is not None:  # OTLP/gRPC beside the web server; PEEKR_GRPC_PORT=0 turns it off
        children.append(Child("OTLP/gRPC receiver", grpc, restartable=True))
    for child in children:
        child.start()

    def stop(signum=None, frame=None, code: int = 0) -> None:
        log("\npeekr: stopping the web server and the workers...")
        stop_all(children)
        sys.exit(code)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    problem = wait_healthy(children)
    if problem:
        log(problem)
        stop(code=1)
    if os.environ.get("PEEKR_DEMO", "1") in ("0", "false", "no"):
        pass
    elif demo_key:
        manage("peekr_demo", "--endpoint", URL, "--key", demo_key)
    else:
        log("peekr: demo traffic was sent at the first start (more: .venv/bin/python manage.py peekr_demo)")
    if grpc is not None:
        log(f"OTLP/gRPC on port {os.environ.get('PEEKR_GRPC_PORT') or 4317}.")
    log(f"\nPeekr is running at {URL}/  (API docs: {URL}/api/docs). Ctrl-C stops it.")
    while True:
        if supervise_step(children, log) is not None:
            stop(code=1)
        time.sleep(1)


if __name__ == "__main__":
    main()
