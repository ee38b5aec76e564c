"""The overload run of bench/ingest.py (`--overload`): many senders at once, against gunicorn shaped as `make run`.

Each sender is an exporter: its own bodies in order, a 10 s client timeout (the OpenTelemetry exporters'
default), and a 429/503 retried after its Retry-After, as OTLP/HTTP asks. A timed-out request is given up
(counted, not retried). Once every sender is done or the run's time is up, the database
must hold exactly the spans of the accepted (200) requests: more would be work done for clients that had
already given up, fewer a lost batch.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

import ingest  # bench/ingest.py: workload, gunicorn and warm-up helpers
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

CLIENT_TIMEOUT_S = 10.0
RETRYABLE = (429, 502, 503, 504)


@dataclass
class OverloadResult:
    limit: int
    senders: int
    bodies: int
    offered_spans: int
    accepted_ms: list[float] = field(default_factory=list)
    shed_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)
    accepted_spans: int = 0
    stored_spans: int = 0
    wall_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.accepted_ms) + len(self.shed_ms) + self.timeouts + len(self.errors)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def span_count(body: bytes) -> int:
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(s.spans) for rs in request.resource_spans for s in rs.scope_spans)


def post_once(port: int, body: bytes, headers: dict) -> tuple[int, str, float]:
    """(status, Retry-After, ms) of one POST on a connection of its own.

    A new connection each time, as after a 429 gunicorn drops the connection anyway: it drains at most 64 KB of a
    body the application did not read, then closes (an exporter's HTTP pool notices and reconnects).
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
    began = time.perf_counter()
    try:
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After") or "", (time.perf_counter() - began) * 1000
    finally:
        conn.close()


def send_as_exporter(port: int, key: str, bodies: list[tuple[bytes, int]], deadline: float, out, lock) -> None:
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}
    for body, n_spans in bodies:
        while time.monotonic() < deadline:
            try:
                status, retry_after, ms = post_once(port, body, headers)
            except TimeoutError:
                with lock:
                    out.timeouts += 1
                break  # given up: the next body
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    out.errors.append(repr(exc))
                break
            if status == 200:
                with lock:
                    out.accepted_ms.append(ms)
                    out.accepted_spans += n_spans
                break
            if status not in RETRYABLE:
                with lock:
                    out.errors.append(f"HTTP {status}")
                break
            with lock:
                out.shed_ms.append(ms)
            time.sleep(max(0.0, min(float(retry_after or 1), deadline - time.monotonic())))


def stored_when_settled(project, timeout: float = 60) -> int:
    """Span rows once the count stops moving: requests whose client timed out may still be committing."""
    from traces.models import Span

    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = Span.objects.filter(project=project).count()
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= 3:
            break
        time.sleep(0.5)
    return last


def plan_bodies(workload, senders: int, rounds: int) -> list[list[tuple[bytes, int]]]:
    """Per sender, its bodies of `rounds` passes over the workload, each pass stamped with fresh ids: enough that
    the run's time, not the end of the work, ends it (a finite tail of retrying senders would idle the server)."""
    per_sender: list[list[tuple[bytes, int]]] = []
    for _ in range(rounds):
        plan, _ = workload.stamp(time.time_ns(), senders=senders)
        per_sender += [[] for _ in range(len(plan) - len(per_sender))]
        for mine, sender in zip(per_sender, plan, strict=False):
            mine += [(body, span_count(body)) for body in sender]
    return per_sender


def run_overload(workload, env: dict[str, str], log_dir, *, limit: int, senders: int, seconds: float,
                 workers: int, threads: int, rounds: int, extra_args=()) -> OverloadResult:  # fmt: skip
    from traces.services import project_create

    bodies = plan_bodies(workload, senders, rounds)
    result = OverloadResult(
        limit=limit,
        senders=len(bodies),
        bodies=sum(len(b) for b in bodies),
        offered_spans=sum(n for sender in bodies for _, n in sender),
    )
    server_env = {**env, "PEEKR_INGEST_MAX_CONCURRENCY": str(limit)}
    server = ingest.Server(
        server_env, workers, threads, log_dir / f"gunicorn-overload-{limit}.log", extra_args=list(extra_args)
    )
    try:
        server.wait_ready()
        _, warm_key = project_create(name=f"bench-overload-warm-{limit}-{time.time_ns()}")
        ingest.warm_up(server.port, warm_key, 4 * workers * threads)
        project, key = project_create(name=f"bench-overload-{limit}-{time.time_ns()}")
        lock = threading.Lock()
        began = time.monotonic()
        deadline = began + seconds
        pool = [
            threading.Thread(target=send_as_exporter, args=(server.port, key, sender, deadline, result, lock))
            for sender in bodies
        ]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        result.wall_s = time.monotonic() - began
        result.stored_spans = stored_when_settled(project)
    finally:
        server.stop()
    return result


def report(results: list[OverloadResult], workers: int, threads: int, seconds: float) -> list[str]:
    if not results:
        return []
    first = results[0]
    out = [
        f"Overload: {first.senders} senders at once, {first.bodies} bodies of <= {ingest.SPANS_PER_REQUEST} spans "
        f"({first.offered_spans:,} spans); gunicorn {workers} workers x {threads} threads (make run's shape); each "
        f"sender retries a 429/503 after Retry-After, gives up a request after {CLIENT_TIMEOUT_S:.0f} s; run <= "
        f"{seconds:.0f} s",
    ]
    header = (
        f"{'limit':>5} | {'requests':>8} | {'200':>5} | {'429/503':>7} | {'shed %':>6} | {'timeouts':>8} | "
        f"{'other':>5} | {'200 p50':>7} | {'200 p99':>7} | {'shed p50':>8} | {'shed p99':>8} | {'wall s':>6} | {'accepted':>8} | "
        f"{'stored':>8} | {'spans/s':>7} | stored = accepted"
    )
    out += [header, "-" * len(header)]
    for r in results:
        share = 100 * len(r.shed_ms) / max(1, r.requests)
        out.append(
            f"{r.limit if r.limit else 'none':>5} | {r.requests:>8} | {len(r.accepted_ms):>5} | {len(r.shed_ms):>7} | "
            f"{share:>5.0f}% | {r.timeouts:>8} | {len(r.errors):>5} | {pct(r.accepted_ms, 0.5):>7.0f} | "
            f"{pct(r.accepted_ms, 0.99):>7.0f} | {pct(r.shed_ms, 0.5):>8.0f} | {pct(r.shed_ms, 0.99):>8.0f} | {r.wall_s:>6.1f} | "
            f"{r.accepted_spans:>8,} | {r.stored_spans:>8,} | {r.accepted_spans / r.wall_s:>7,.0f} | "
            f"{'yes' if r.stored_spans == r.accepted_spans else 'NO'}"
        )
    out.append(
        "limit: PEEKR_INGEST_MAX_CONCURRENCY per process (none = 0, no shedding). Latencies in ms at the client; "
        "a 200 is sent after commit.\nspans/s: accepted spans / wall time. accepted: spans in 200 answers; stored: "
        "span rows once the count settles (stored > accepted = work for clients that had timed out)."
    )
    for r in results:
        if r.errors:
            out.append(f"limit {r.limit}: {len(r.errors)} other errors, first: {r.errors[0]}")
    return out
