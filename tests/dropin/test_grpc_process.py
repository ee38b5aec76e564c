"""`make run` starts the OTLP/gRPC receiver (manage.py peekr_grpc) beside the web server; PEEKR_GRPC_PORT=0
turns it off, a bad value is refused clearly."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tests.traces.gunicorn_server import free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from supervise import grpc_argv  # noqa: E402


def test_make_run_starts_it_unless_the_port_is_zero():
    assert grpc_argv("py", {}) == ["py", "manage.py", "peekr_grpc"]
    assert grpc_argv("py", {"PEEKR_GRPC_PORT": "4318"}) == ["py", "manage.py", "peekr_grpc"]
    assert grpc_argv("py", {"PEEKR_GRPC_PORT": "0"}) is None


def manage(env: dict, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "peekr_grpc", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.parametrize(
    "port, message",
    [("70000", "PEEKR_GRPC_PORT must be 0 (off) or a port"), ("x", "PEEKR_GRPC_PORT must be an integer")],
)
def test_a_bad_port_is_refused_clearly(port, message):
    out, err = manage({"PEEKR_GRPC_PORT": port}).communicate(timeout=60)
    assert message in err


def test_port_zero_turns_it_off():
    proc = manage({"PEEKR_GRPC_PORT": "0"})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "OTLP/gRPC is off" in out


def test_it_serves_until_sigterm(subprocess_env):
    port = free_port()
    proc = manage({**subprocess_env, "PEEKR_GRPC_PORT": str(port)})
    try:
        assert "listening" in proc.stdout.readline()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.Export(trace_service_pb2.ExportTraceServiceRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # it answers, and asks for a key
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0 and time.monotonic() - began < 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
