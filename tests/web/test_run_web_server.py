"""How `make run` starts gunicorn (scripts/supervise.py): on 127.0.0.1 unless PEEKR_BIND says otherwise, with its
control socket in the data dir. The last test starts the real gunicorn with that command line."""

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

from scripts.supervise import gunicorn_argv, local_url

ROOT = Path(__file__).resolve().parents[2]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_it_binds_the_loopback_address_by_default(tmp_path):
    argv = gunicorn_argv("python", {}, tmp_path)
    assert option(argv, "--bind") == "127.0.0.1:8000"
    assert option(argv, "--control-socket") == str(tmp_path / "gunicorn.ctl")


def test_peekr_bind_and_port_are_honoured(tmp_path):
    assert option(gunicorn_argv("python", {"PEEKR_BIND": "0.0.0.0", "PEEKR_PORT": "9000"}, tmp_path), "--bind") == (
        "0.0.0.0:9000"
    )
    assert option(gunicorn_argv("python", {"PEEKR_BIND": "::"}, tmp_path), "--bind") == "[::]:8000"


def test_make_run_reaches_a_wildcard_bind_on_the_loopback_address():
    assert local_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert local_url("::", 8000) == "http://[::1]:8000"
    assert local_url("192.0.2.10", 8001) == "http://192.0.2.10:8001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on port (Linux's /proc/net/tcp: hex IP:port, state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        ip_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(ip_hex)[::-1]))
    return found


def test_the_real_gunicorn_listens_on_loopback_only_with_its_control_socket_in_the_data_dir(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEEKR_")}
    env.update(PEEKR_DATA_DIR=str(tmp_path), PEEKR_PORT=str(port), PEEKR_WEB_WORKERS="1")
    proc = subprocess.Popen(gunicorn_argv(sys.executable, env, tmp_path), env=env, cwd=ROOT)
    control = tmp_path / "gunicorn.ctl"
    try:
        deadline = time.monotonic() + 30
        while not (control.exists() and listening_addresses(port)) and time.monotonic() < deadline:
            assert proc.poll() is None, "gunicorn exited"
            time.sleep(0.1)

        assert listening_addresses(port) == {"127.0.0.1"}
        assert stat.S_ISSOCK(control.stat().st_mode)
        assert stat.S_IMODE(control.stat().st_mode) == 0o600
    finally:
        proc.terminate()
        proc.wait(timeout=20)
