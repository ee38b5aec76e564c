"""OTLP/gRPC beside OTLP/HTTP in bench/ingest.py (`--grpc`): the same workload's ExportTraceServiceRequest bodies
sent as raw bytes to the TraceService of `manage.py peekr_grpc` (traces/grpc_server.py), one channel per sender,
so the two transports are measured on the same spans, database and machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

ROOT = Path(__file__).resolve().parent.parent
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GrpcServer:
    """`manage.py peekr_grpc` in its own process group, with PEEKR_INGEST_MAX_CONCURRENCY raised to `slots`
    (one process: its limit is the whole receiver's)."""

    def __init__(self, env: dict[str, str], slots: int, log_path: Path):
        self.port = free_port()
        self.log = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "peekr_grpc", "--port", str(self.port)],
                cwd=ROOT,
                env={**os.environ, **env, "PEEKR_INGEST_MAX_CONCURRENCY": str(slots)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if "listening" in self.log.read_text():
                return
            time.sleep(0.1)
        sys.exit(f"peekr_grpc did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def send_all_grpc(port: int, key: str, plan: list[list[bytes]]) -> tuple[list[float], list[str]]:
    """Export every body once, one thread and one channel per sender; RESOURCE_EXHAUSTED is retried after its
    RetryInfo, as the OpenTelemetry exporter does (its wait is not in the request's latency)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    metadata = (("authorization", f"Bearer {key}"),)

    def sender(bodies: list[bytes], who: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
            export = ch.unary_unary(METHOD)  # bytes in, bytes out: no client-side serialisation in the timing
            for i, body in enumerate(bodies):
                problem = ""
                for _ in range(50):
                    began = time.perf_counter()
                    try:
                        answer = ExportTraceServiceResponse.FromString(export(body, metadata=metadata, timeout=60))
                    except grpc.RpcError as exc:
                        if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                            time.sleep(0.05)
                            continue
                        problem = f"sender {who} request {i}: {exc.code().name} {exc.details()[:200]}"
                        break
                    elapsed = (time.perf_counter() - began) * 1000
                    if answer.partial_success.rejected_spans:
                        problem = f"sender {who} request {i}: {answer.partial_success.rejected_spans} spans rejected"
                    with lock:
                        latencies.append(elapsed)
                    break
                else:
                    problem = f"sender {who} request {i}: still RESOURCE_EXHAUSTED after 50 tries"
                if problem:
                    with lock:
                        errors.append(problem)

    threads = [threading.Thread(target=sender, args=(bodies, who)) for who, bodies in enumerate(plan)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors
