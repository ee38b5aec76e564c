"""Ingestion benchmark: OTLP/HTTP protobuf into gunicorn + PostgreSQL (+ Redis as the Celery broker) and SQLite
(the laptop default, with the filesystem broker).

    .venv/bin/python bench/ingest.py            # 50,000 spans, 1 then 4 senders, on PostgreSQL then SQLite
    .venv/bin/python bench/ingest.py --quick    # 5,000 spans, a smoke run
    .venv/bin/python bench/ingest.py --database postgresql --explain   # also: where the median and the slowest
                                                # requests' time goes (server timing hooks, pg_stat_activity
                                                # sampled every 50 ms, checkpoints during the run)
    .venv/bin/python bench/ingest.py --repeat 3 # each sender count 3 times back to back (a shared machine)
    .venv/bin/python bench/ingest.py --workers 3 --threads 2   # another gunicorn shape (plain gthread, keep-alive)
    .venv/bin/python bench/ingest.py --no-write-queue          # SQLite without traces/write_queue.py
    .venv/bin/python bench/ingest.py --profile  # also: where one 512-span request's time goes, in-process
    .venv/bin/python bench/ingest.py --grpc     # also over OTLP/gRPC (rows "g1", "g4": manage.py peekr_grpc)
    .venv/bin/python bench/ingest.py --overload # then 64 senders at once against `make run`'s gunicorn shape
                                                # (bench/overload.py: share of 429s, p99, accepted = stored)

The server is `make run`'s (scripts/supervise.py gunicorn_argv) unless --workers/--threads say otherwise. Each
database runs in a process of its own (Django is set up once per process); bench/_env.py prepares it.

It (re)creates its own database (`peekr_bench`, never the test database), migrates it, starts
`gunicorn peekr_web.wsgi` on a free port, and sends traces of six spans (CHAIN root, RETRIEVER with three
documents, two chat calls, a tool, a final chat; 1-2 KB of gen_ai.input.messages per chat) as
ExportTraceServiceRequest bodies of 512 spans, built with the opentelemetry.proto classes and serialised before
the clock starts, so the client is not what is measured. Each concurrency level sends into a project of its
own, with fresh ids. A run counts from its first request until the database holds every span; a sample of
traces is then read back through GET /api/v1/traces/{id}. It prints figures, never asserts on them.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import platform
import pstats
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _env  # noqa: E402  (bench/_env.py: database, broker, data directory, Django)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue  # noqa: E402
from opentelemetry.proto.resource.v1.resource_pb2 import Resource  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/5"
SPANS_PER_REQUEST = 512
SPANS_PER_TRACE = 6
TARGET_SPANS_PER_S = 5000
TARGET_P99_MS = 250
API_SAMPLE = 25

# ---------------------------------------------------------------------------------------------------------------
# Payloads

VOCABULARY = (
    "the a of to and in for is on that with as it be by this are or from at your you can we an not have will "
    "sync note notes notebook export import workspace account team plan storage device devices share link "
    "password token api request limit minute attachment search index offline edit conflict copy trash restore "
    "settings security admin member owner invite email download upload file folder tag filter page result "
    "version release migration customer support answer question document section example error timeout retry "
    "latency queue worker server client database cache policy region residency quota billing invoice seat "
    "user session message reply summary context prompt model response feature roadmap update mobile desktop"
)
WORDS = VOCABULARY.split()


def paragraph(rng: random.Random, n_chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < n_chars:
        sentence = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
        sentence[0] = sentence[0].capitalize()
        text = " ".join(sentence) + "."
        words.append(text)
        size += len(text) + 1
    return " ".join(words)[:n_chars]


def kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def parts(role: str, content: str) -> dict:
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def chat_attributes(rng: random.Random, messages: list[dict], reply: list[dict], finish: str = "stop") -> list:
    inp = json.dumps(messages, separators=(",", ":"))
    out = json.dumps([{"role": "assistant", "parts": reply, "finish_reason": finish}], separators=(",", ":"))
    return [
        kv("gen_ai.operation.name", "chat"),
        kv("gen_ai.provider.name", "openai"),
        kv("gen_ai.request.model", "gpt-4o-mini"),
        kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        kv("gen_ai.response.id", f"chatcmpl-{rng.getrandbits(96):024x}"),
        kv("gen_ai.usage.input_tokens", len(inp) // 4),
        kv("gen_ai.usage.output_tokens", len(out) // 4),
        kv("server.address", "api.openai.com"),
        kv("server.port", 443),
        kv("gen_ai.input.messages", inp),
        kv("gen_ai.output.messages", out),
    ]


def trace_spans(rng: random.Random, pool: list[str]) -> list[Span]:
    """One six-span RAG + tool trace; ids and times are filled in per run (see stamp)."""
    question = rng.choice(pool)[: rng.randint(60, 140)] + "?"
    answer = rng.choice(pool)[: rng.randint(200, 450)]
    docs = [rng.choice(pool)[: rng.randint(250, 450)] for _ in range(3)]
    session = [kv("session.id", f"sess-{rng.getrandbits(32):08x}"), kv("user.id", f"user-{rng.randint(1, 5000)}")]
    system = "Answer from the documentation excerpts below.\n\n" + "\n\n".join(docs)
    history = [parts("user", rng.choice(pool)[:200]), parts("assistant", rng.choice(pool)[:300])]
    messages = [parts("system", system), *history[: rng.randint(0, 2)], parts("user", question)]
    call = {"type": "tool_call", "id": "call_1", "name": "search_docs", "arguments": {"query": question[:40]}}
    tool_result = rng.choice(pool)[: rng.randint(300, 600)]

    def span(name, kind, attributes, status=0):
        return Span(name=name, kind=kind, attributes=attributes, status=Status(code=status))

    root = span(
        "rag.answer",
        Span.SPAN_KIND_INTERNAL,
        [
            kv("openinference.span.kind", "CHAIN"),
            kv("input.value", question),
            kv("output.value", answer),
            *session,
        ],
    )
    documents = []
    for i, doc in enumerate(docs):
        documents += [
            kv(f"retrieval.documents.{i}.document.id", f"kb-{rng.randint(100, 999)}"),
            kv(f"retrieval.documents.{i}.document.content", doc),
            kv(f"retrieval.documents.{i}.document.score", round(rng.uniform(0.5, 0.95), 4)),
        ]
    retriever = span(
        "retrieve",
        Span.SPAN_KIND_INTERNAL,
        [kv("openinference.span.kind", "RETRIEVER"), kv("input.value", question), *documents],
    )
    plan = span(
        "chat gpt-4o-mini",
        Span.SPAN_KIND_CLIENT,
        chat_attributes(rng, messages, [call], "tool_calls"),
    )
    tool = span(
        "execute_tool search_docs",
        Span.SPAN_KIND_INTERNAL,
        [
            kv("gen_ai.operation.name", "execute_tool"),
            kv("gen_ai.tool.name", "search_docs"),
            kv("gen_ai.tool.call.id", "call_1"),
            kv("gen_ai.tool.call.arguments", json.dumps(call["arguments"])),
            kv("gen_ai.tool.call.result", tool_result),
        ],
    )
    final_messages = [
        *messages,
        {"role": "assistant", "parts": [call]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": tool_result}]},
    ]
    draft = span(
        "chat gpt-4o-mini",
        Span.SPAN_KIND_CLIENT,
        chat_attributes(
            rng,
            [parts("system", "Rewrite the question for a documentation search."), parts("user", question)],
            [{"type": "text", "content": question}],
        ),
    )
    final = span(
        "chat gpt-4o-mini",
        Span.SPAN_KIND_CLIENT,
        chat_attributes(rng, final_messages, [{"type": "text", "content": answer}]),
    )
    return [root, retriever, draft, plan, tool, final]


@dataclass
class Workload:
    traces: list[list[Span]]
    n_spans: int

    @classmethod
    def build(cls, n_spans: int, seed: int = 1) -> Workload:
        rng = random.Random(seed)
        pool = [paragraph(rng, 1200) for _ in range(400)]
        n_traces = -(-n_spans // SPANS_PER_TRACE)
        traces = [trace_spans(rng, pool) for _ in range(n_traces)]
        return cls(traces=traces, n_spans=n_traces * SPANS_PER_TRACE)

    def stamp(self, now_ns: int, senders: int = 1) -> tuple[list[list[bytes]], list[str]]:
        """Fresh ids and times (the last minutes before now_ns), serialised into bodies of 512 spans, one list
        of bodies per sender.

        Each sender gets its own traces, as separate exporting processes do. Within a sender a trace may span
        two consecutive bodies (as with the SDK's BatchSpanProcessor), and those go out one after the other;
        handing consecutive bodies to different senders instead would chain every in-flight request on the
        row lock of the trace they share, which no real deployment does.
        """
        rng = random.Random(now_ns)
        trace_ids = []
        step = 60 * 10**9 // max(1, len(self.traces))
        for i, trace in enumerate(self.traces):
            trace_id = os.urandom(16)
            trace_ids.append(trace_id.hex())
            root = trace[0]
            t = now_ns - 120 * 10**9 + i * step
            root.trace_id, root.span_id, root.start_time_unix_nano = trace_id, os.urandom(8), t
            for child in trace[1:]:
                child.trace_id, child.span_id, child.parent_span_id = trace_id, os.urandom(8), root.span_id
                child.start_time_unix_nano = t + 2_000_000
                t += 2_000_000 + rng.randint(50, 1500) * 1_000_000
                child.end_time_unix_nano = t
            root.end_time_unix_nano = t + 1_000_000
        resource = Resource(attributes=[kv("service.name", "bench-app"), kv("telemetry.sdk.name", "opentelemetry")])
        scope = InstrumentationScope(name="bench", version="1.0")
        per_sender = -(-len(self.traces) // senders)
        plan = []
        for first in range(0, len(self.traces), per_sender):
            spans = [span for trace in self.traces[first : first + per_sender] for span in trace]
            plan.append(otlp_bodies(spans, resource, scope))
        return plan, trace_ids


def otlp_bodies(spans: list, resource, scope) -> list[bytes]:
    """Serialised ExportTraceServiceRequest bodies of at most SPANS_PER_REQUEST spans each, under one resource and
    scope (bench/storage.py builds its bodies with it too)."""
    bodies = []
    for start in range(0, len(spans), SPANS_PER_REQUEST):
        request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=resource,
                    scope_spans=[ScopeSpans(scope=scope, spans=spans[start : start + SPANS_PER_REQUEST])],
                )
            ]
        )
        bodies.append(request.SerializeToString())
    return bodies


# ---------------------------------------------------------------------------------------------------------------
# Infrastructure: PostgreSQL, Redis, Django, gunicorn


# Shared with bench/retention.py and bench/eval_overhead.py (bench/_env.py); kept importable from here.
ensure_postgres, recreate_database, check_redis = _env.ensure_postgres, _env.recreate_database, _env.check_redis
setup_django, free_port = _env.setup_django, _env.free_port


SERVER_TIMING_CONF = '''\
"""Written by bench/ingest.py --explain: one JSON line per POST /v1/traces, where its time went in the server."""
import json
import os
import threading
import time

_local = threading.local()
_lock = threading.Lock()
_out = None


def _runqueue_ns():
    """Nanoseconds this thread has spent runnable but waiting for a CPU (the other threads' GIL time is not in it)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _timed(owner, name, key):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        acc = getattr(_local, "acc", None)
        if acc is None:
            return original(*args, **kwargs)
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            acc[key] = acc.get(key, 0.0) + time.perf_counter() - began

    setattr(owner, name, timed)


def post_worker_init(worker):
    global _out
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

    from traces import otlp, services

    _out = open(os.path.join(os.environ["PEEKR_BENCH_TIMING_DIR"], f"requests-{os.getpid()}.jsonl"), "a", buffering=1)
    _timed(otlp, "decode_traces_request", "decode")
    _timed(services, "spans_ingest", "ingest")
    _timed(services, "normalize", "normalize")
    _timed(services, "_enqueue_settle", "enqueue")
    _timed(CursorWrapper, "execute", "sql")
    _timed(CursorWrapper, "executemany", "sql")
    from django.db import connections

    backend = type(connections["default"])
    if hasattr(backend, "_start_transaction_under_autocommit"):  # SQLite: BEGIN (IMMEDIATE) and the write turn
        _timed(backend, "_start_transaction_under_autocommit", "begin")
    _timed(BaseDatabaseWrapper, "commit", "commit")
    try:
        import psycopg  # COPY goes around Django's cursor

        _timed(psycopg.Copy, "write_row", "sql")
        _timed(psycopg.Copy, "__exit__", "sql")
    except ImportError:
        pass
    try:
        from traces import write_queue  # the SQLite writer queue, where there is one

        _timed(write_queue, "_wait_turn", "queue_wait")
    except (ImportError, AttributeError):
        pass
    if os.environ.get("PEEKR_BENCH_GC_FREEZE"):  # make run's own hook (scripts/gunicorn_conf.py), replaced by this file
        import sys

        sys.path.insert(0, os.path.join(os.getcwd(), "scripts"))
        from gunicorn_conf import freeze_boot_objects

        freeze_boot_objects()


def pre_request(worker, req):
    _local.acc = {}
    rid = next((v for k, v in req.headers if k == "X-BENCH-ID"), "")
    _local.start = (rid, time.time(), time.perf_counter(), time.thread_time(), _runqueue_ns())


def post_request(worker, req, environ, resp):
    acc = getattr(_local, "acc", None)
    _local.acc = None
    if acc is None or _out is None or req.path != "/v1/traces":
        return
    rid, epoch, t0, c0, q0 = _local.start
    record = {"id": rid, "pid": os.getpid(), "tid": threading.get_ident(), "at": epoch,
              "wall": time.perf_counter() - t0, "cpu": time.thread_time() - c0, "runq": (_runqueue_ns() - q0) / 1e9}
    record.update(acc)
    with _lock:
        _out.write(json.dumps(record) + "\\n")
'''


class Server:
    """gunicorn peekr_web.wsgi in its own process group, so stopping it stops its workers too. ``timing_dir``:
    with the hooks of SERVER_TIMING_CONF, one JSON line per ingest request in that directory."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int,
        threads: int,
        log: Path,
        timing_dir: Path | None = None,
        extra_args: list[str] = (),
    ):
        self.port = free_port()
        self.log = log
        self.workers, self.threads = workers, threads
        self.timing_dir = timing_dir
        cmd = [
            str(Path(sys.executable).parent / "gunicorn"),
            "peekr_web.wsgi",
            f"--workers={workers}",
            f"--threads={threads}",
            f"--bind=127.0.0.1:{self.port}",
            "--timeout=120",
            "--keep-alive=30",
            *extra_args,
        ]
        env = {**os.environ, **env}
        if timing_dir is not None:
            if any(arg.startswith("--config=") for arg in cmd):  # one --config only: the timing hooks call make run's
                cmd = [arg for arg in cmd if not arg.startswith("--config=")]
                env["PEEKR_BENCH_GC_FREEZE"] = "1"
            timing_dir.mkdir(parents=True, exist_ok=True)
            conf = timing_dir / "gunicorn_timing_conf.py"
            conf.write_text(SERVER_TIMING_CONF)
            cmd.append(f"--config={conf}")
            env["PEEKR_BENCH_TIMING_DIR"] = str(timing_dir)
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def timings(self) -> dict[str, dict]:
        """Every ingest request's server-side record so far, by the client's X-Bench-Id."""
        out = {}
        for path in self.timing_dir.glob("requests-*.jsonl") if self.timing_dir else ():
            for line in path.read_text().splitlines():
                if line.strip():
                    record = json.loads(line)
                    out[record["id"]] = record
        return out

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# ---------------------------------------------------------------------------------------------------------------
# Sending and measuring


@dataclass
class RunResult:
    concurrency: int
    spans: int
    requests: int
    send_s: float
    readable_s: float
    latencies_ms: list[float] = field(default_factory=list)
    api_ok: int = 0
    api_checked: int = 0
    errors: list[str] = field(default_factory=list)
    cpu_busy: float = 0.0  # % of all the machine's cores, during the run
    background: float = 0.0  # % busy just before the run, with the bench idle
    explained: list[str] = field(default_factory=list)  # --explain
    server_cpu: tuple[float, float] = (0.0, 0.0)  # CPU seconds of gunicorn's processes and of PostgreSQL's backends

    @property
    def spans_per_s(self) -> float:
        return self.spans / self.readable_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def send_all(
    port: int, key: str, plan: list[list[bytes]], sent: list | None = None, rate: float = 0.0
) -> tuple[list[float], list[str]]:
    """POST every body once: one thread and one keep-alive connection per sender, each sending its own bodies
    in order, as an exporting process does. ``sent`` gets (X-Bench-Id, sender, epoch sent, latency ms) per 200.
    ``rate`` (spans/s, all senders together; 0: as fast as answers come back): each sender starts its requests on
    a schedule, staggered between senders, as exporters on a timer do; one that falls behind sends at once."""
    latencies: list[float] = []
    interval = SPANS_PER_REQUEST * len(plan) / rate if rate > 0 else 0.0
    start_at = time.perf_counter() + 0.05
    errors: list[str] = []
    lock = threading.Lock()
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}

    def sender(bodies: list[bytes], who: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for i, body in enumerate(bodies):
            if interval:
                time.sleep(max(0.0, start_at + (i + who / len(plan)) * interval - time.perf_counter()))
            rid = f"{who}-{i}-{time.time_ns()}"
            epoch, began = time.time(), time.perf_counter()
            try:
                conn.request("POST", "/v1/traces", body=body, headers={**headers, "X-Bench-Id": rid})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                with lock:
                    errors.append(f"sender {who} request {i}: {exc!r}")
                continue
            elapsed = (time.perf_counter() - began) * 1000
            problem = ""
            if response.status != 200:
                problem = f"sender {who} request {i}: HTTP {response.status} {data[:200]!r}"
            else:
                partial = ExportTraceServiceResponse.FromString(data).partial_success
                if partial.rejected_spans:
                    problem = f"sender {who} request {i}: {partial.rejected_spans} spans rejected: {partial.error_message[:200]}"
            with lock:
                latencies.append(elapsed)
                if sent is not None and not problem:
                    sent.append((rid, who, epoch, elapsed))
                if problem:
                    errors.append(problem)
        conn.close()

    threads = [threading.Thread(target=sender, args=(bodies, who)) for who, bodies in enumerate(plan)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine: server, PostgreSQL and this client share its cores."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process so far; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(server: Server | None) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each gunicorn process (the server's process group) and of each PostgreSQL backend
    of the bench's database but this process's own, by pid. What the server spends per span, whatever else
    the machine runs (wall times swell on a shared machine, CPU times much less)."""
    from django.db import connection

    web: dict[int, float] = {}
    if server is not None and server.proc is not None and os.path.isdir("/proc"):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getpgid(int(entry)) == server.proc.pid:
                        web[int(entry)] = _process_cpu(int(entry))
                except OSError:
                    continue
    database: dict[int, float] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            database = {pid: _process_cpu(pid) for (pid,) in cur.fetchall()}
    return {"web": web, "database": database}


def cpu_spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> tuple[float, float]:
    """(web, database) CPU seconds between two server_cpu readings (a process that started in between counts
    from 0; one that ended in between is lost, which the bench's persistent connections make rare)."""
    return tuple(  # type: ignore[return-value]
        sum(max(0.0, cpu - before[side].get(pid, 0.0)) for pid, cpu in after[side].items())
        for side in ("web", "database")
    )


def background_cpu(seconds: float = 3.0) -> float:
    """% of the machine busy while the bench itself is idle: other tenants skew every figure by this much."""
    before = cpu_times()
    time.sleep(seconds)
    after = cpu_times()
    return (after[0] - before[0]) / max(1, after[1] - before[1]) * 100


def warm_up(port: int, key: str, connections: int) -> None:
    """Send a few small bodies on many connections at once, so every gunicorn worker has imported the app,
    opened its database and broker connections and compiled the price table before the clock starts."""
    tiny = Workload.build(SPANS_PER_TRACE * 4, seed=2)
    batches = [tiny.stamp(time.time_ns())[0][0] for _ in range(connections)]
    send_all(port, key, batches)


def check_api(port: int, key: str, trace_ids: list[str]) -> tuple[int, list[str]]:
    """Read the newest trace and a sample of traces back through the JSON API; count those that came back
    whole, and describe the others."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}"}
    sample = random.Random(3).sample(trace_ids, min(API_SAMPLE, len(trace_ids)))
    ok, problems = 0, []
    for path in ["/api/v1/traces?limit=1", *(f"/api/v1/traces/{t}" for t in sample)]:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        data = response.read()
        try:
            body = json.loads(data)
        except ValueError:
            body = None
        if response.status != 200 or not isinstance(body, dict):
            problems.append(f"GET {path}: HTTP {response.status} {data[:200]!r}")
        elif "items" in body:
            ok += bool(body["items"])
        elif body["span_count"] == SPANS_PER_TRACE and len(body["spans"]) == SPANS_PER_TRACE:
            ok += 1
        else:
            problems.append(f"GET {path}: {len(body['spans'])} spans, span_count {body['span_count']}")
    conn.close()
    return ok, problems


def run(
    concurrency: int, workload: Workload, port: int, send=None, server: Server | None = None, rate: float = 0.0
) -> RunResult:
    """One run; ``send(key, plan)`` replaces OTLP/HTTP to ``port`` (--grpc); the API check is always HTTP.
    ``server`` started with timing hooks (--explain): the result also says where the requests' time went."""
    from traces.models import Span
    from traces.services import project_create

    # An admin key: it sends the spans and reads the API sample back (new keys are ingest-only).
    project, key = project_create(name=f"bench-{concurrency}x-{time.time_ns()}", key_scope="admin")
    plan, trace_ids = workload.stamp(time.time_ns(), senders=concurrency)
    background = background_cpu()
    explaining = send is None and server is not None and server.timing_dir is not None
    sampler = DatabaseSampler() if explaining else None
    sent_log: list = []
    cpu_before = cpu_times()
    server_before = server_cpu(server)
    began = time.perf_counter()
    if sampler:
        sampler.start()
    latencies, errors = send(key, plan) if send else send_all(port, key, plan, sent=sent_log, rate=rate)
    sent = time.perf_counter()
    if sampler:
        sampler.finish()
    deadline = sent + 120
    stored = 0
    while time.perf_counter() < deadline:
        stored = Span.objects.filter(project=project).count()
        if stored >= workload.n_spans:
            break
        time.sleep(0.02)
    readable = time.perf_counter()
    cpu_after = cpu_times()
    spent = cpu_spent(server_before, server_cpu(server))
    busy = (cpu_after[0] - cpu_before[0]) / max(1, cpu_after[1] - cpu_before[1]) * 100
    if stored < workload.n_spans:
        errors.append(f"only {stored} of {workload.n_spans} spans stored after 120 s")
    api_ok, problems = check_api(port, key, trace_ids)
    errors += problems
    result = RunResult(
        concurrency=concurrency,
        spans=stored,
        requests=sum(len(bodies) for bodies in plan),
        send_s=sent - began,
        readable_s=readable - began,
        latencies_ms=latencies,
        api_ok=api_ok,
        api_checked=min(API_SAMPLE, len(trace_ids)) + 1,
        errors=errors,
        cpu_busy=busy,
        background=background,
        server_cpu=spent,
    )
    if explaining:
        result.explained = explain(sent_log, server.timings(), sampler)
    return result


# ---------------------------------------------------------------------------------------------------------------
# --explain: where a request's time goes, server side, and what the database's backends wait on meanwhile


class DatabaseSampler(threading.Thread):
    """Every 50 ms, what the bench database's busy backends are doing (pg_stat_activity: state, wait event), and
    the checkpoints during the run (pg_stat_bgwriter). PostgreSQL only; on SQLite it records nothing."""

    def __init__(self):
        super().__init__(daemon=True)
        from django.db import connection

        self.enabled = connection.vendor == "postgresql"
        self.url = os.environ.get("PEEKR_DATABASE_URL", "")
        self.stop_event = threading.Event()
        self.samples = 0
        self.counts: dict[tuple[str, str], int] = {}
        self.checkpoints: tuple[int, int, float, float] = (0, 0, 0.0, 0.0)  # timed, requested, write ms, sync ms

    def _bgwriter(self, conn) -> tuple[int, int, float, float]:
        return conn.execute(
            "SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time FROM pg_stat_bgwriter"
        ).fetchone()

    def run(self) -> None:
        if not self.enabled:
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            before = self._bgwriter(conn)
            while not self.stop_event.wait(0.05):
                rows = conn.execute(
                    "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'on CPU') FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    " AND state <> 'idle'"
                ).fetchall()
                self.samples += 1
                for state, wait in rows:
                    key = ("in transaction, waiting for the app", "") if state.startswith("idle in") else (state, wait)
                    self.counts[key] = self.counts.get(key, 0) + 1
            after = self._bgwriter(conn)
            self.checkpoints = tuple(a - b for a, b in zip(after, before, strict=True))

    def finish(self) -> None:
        self.stop_event.set()
        self.join()


COMPONENTS = (  # (key in the server's record, label); times in seconds
    ("queue", "in gunicorn before the view (client - server wall)"),
    ("wall", "server wall (pre_request .. post_request)"),
    ("cpu", "  the thread's own CPU"),
    ("runq", "  runnable, waiting for a core"),
    ("gil", "  neither (GIL, I/O, lock waits outside SQL)"),
    ("decode", "  decode (protobuf -> RawSpan)"),
    ("normalize", "  normalize (conventions, pricing)"),
    ("ingest", "  spans_ingest"),
    ("queue_wait", "    waiting for the process's write turn"),
    ("begin", "    BEGIN (SQLite: the write turn + lock, in SQL too)"),
    ("sql", "    SQL (Django cursor + COPY)"),
    ("commit", "    COMMIT (WAL flush)"),
    ("enqueue", "    enqueue trace_settle"),
)


def explain(sent_log: list, timings: dict[str, dict], sampler: DatabaseSampler | None) -> list[str]:
    """The median request beside the slowest ones, component by component; how many ingest requests the same
    process was serving at once; and the database's side."""
    rows = []
    for rid, _who, epoch, latency_ms in sent_log:
        record = timings.get(rid)
        if record is None:
            continue
        r = dict(record)
        r["latency"] = latency_ms / 1000
        r["queue"] = max(0.0, r["latency"] - r["wall"])
        r["gil"] = max(0.0, r["wall"] - r["cpu"] - r["runq"] - r.get("sql", 0) - r.get("commit", 0) - r.get("begin", 0))
        r["epoch"] = epoch
        rows.append(r)
    if not rows:
        return ["(no server timings matched the requests)"]
    # Requests the same worker process had in flight at once (its threads share one GIL).
    for r in rows:
        start, end = r["at"], r["at"] + r["wall"]
        r["siblings"] = sum(
            1 for o in rows if o is not r and o["pid"] == r["pid"] and o["at"] < end and o["at"] + o["wall"] > start
        )
    rows.sort(key=lambda r: r["latency"])
    n = len(rows)
    middle = rows[max(0, n // 2 - 2) : n // 2 + 3]
    tail = rows[-max(2, n // 50) :]

    def mean(group, key):
        return statistics.mean(r.get(key, 0.0) for r in group) * 1000

    out = [
        f"  where the time goes (ms, mean of the {len(middle)} requests around the median | of the slowest {len(tail)}):",
        f"    {'client latency':<52}{mean(middle, 'latency'):>7.0f} | {mean(tail, 'latency'):>7.0f}",
    ]
    for key, label in COMPONENTS:
        if any(key in r for r in rows):
            out.append(f"    {label:<52}{mean(middle, key):>7.0f} | {mean(tail, key):>7.0f}")
    sib = statistics.mean(r["siblings"] for r in middle), statistics.mean(r["siblings"] for r in tail)
    out.append(f"    {'other ingest requests in the same process at once':<52}{sib[0]:>7.1f} | {sib[1]:>7.1f}")
    per_pid: dict[int, int] = {}
    for r in rows:
        per_pid[r["pid"]] = per_pid.get(r["pid"], 0) + 1
    out.append(f"    requests per worker process: {sorted(per_pid.values(), reverse=True)}")
    if sampler is not None and sampler.enabled and sampler.samples:
        timed, requested, write_ms, sync_ms = sampler.checkpoints
        out.append(
            f"  PostgreSQL during the run: {timed} timed + {requested} requested checkpoint(s) "
            f"(write {write_ms:,.0f} ms, sync {sync_ms:,.0f} ms); busy backends per 50 ms sample:"
        )
        for (state, wait), count in sorted(sampler.counts.items(), key=lambda kv: -kv[1])[:8]:
            out.append(f"    {count / sampler.samples:5.2f}  {state}{' / ' + wait if wait else ''}")
    return out


def storage() -> dict[str, float]:
    from django.db import connection

    from traces.models import Span, Trace

    if connection.vendor == "sqlite":
        name = Path(connection.settings_dict["NAME"])
        size = sum(p.stat().st_size for p in name.parent.glob(name.name + "*"))
        spans = Span.objects.count()
        return {"spans": spans, "file": size / max(1, spans)}
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE traces_span")  # dead tuples of upserts are not stored data
        cur.execute("VACUUM ANALYZE traces_trace")
        # Summed over the partitions (traces_span is partitioned on PostgreSQL; a plain table is its own only one).
        cur.execute(
            "SELECT sum(pg_total_relation_size(relid)), sum(pg_table_size(relid)), sum(pg_relation_size(relid)),"
            " sum(pg_indexes_size(relid)), pg_total_relation_size('traces_trace') FROM pg_partition_tree('traces_span')"
        )
        span_total, span_table, span_heap, span_indexes, trace_total = cur.fetchone()
    spans, traces = Span.objects.count(), Trace.objects.count()
    return {
        "spans": spans,
        "traces": traces,
        "span_total": span_total / spans,
        "span_heap": span_heap / spans,
        "span_toast": (span_table - span_heap) / spans,
        "span_indexes": span_indexes / spans,
        "trace_total": trace_total / traces,
    }


# ---------------------------------------------------------------------------------------------------------------
# In-process profile of one request's work


class StageTimer:
    """CPU time of named functions, by wrapping them for the duration of a `with` block: this process's
    (time.process_time) and, where ``backend_pid`` is given, the PostgreSQL backend's (its schedstat), since
    wall times on a shared machine mostly measure the other tenants.

    A profiler triples the cost of Django's Python-heavy paths and so distorts the split; plain timers
    around a few functions do not. Wrapping (rather than editing the code) keeps the bench independent of it.
    ``per_call=False`` (a function called per span): this process's CPU only, two clock reads per call.
    """

    def __init__(self, backend_pid: int | None = None):
        self.totals: dict[str, list[float]] = {}  # label -> [this process's CPU s, the backend's CPU s]
        self.patches: list[tuple[object, str, object]] = []
        self.backend_pid = backend_pid

    def backend_cpu(self) -> float:
        if self.backend_pid is None:
            return 0.0
        try:
            with open(f"/proc/{self.backend_pid}/schedstat") as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    def wrap(self, owner, name: str, label: str, only_model=None, per_call: bool = True) -> None:
        original = getattr(owner, name)
        total = self.totals.setdefault(label, [0.0, 0.0])
        backend = self.backend_cpu if per_call else (lambda: 0.0)

        def timed(*args, **kwargs):
            if only_model is not None and getattr(args[0], "model", None) is not only_model:
                return original(*args, **kwargs)
            cpu, db = time.process_time(), backend()
            try:
                return original(*args, **kwargs)
            finally:
                total[0] += time.process_time() - cpu
                total[1] += backend() - db

        self.patches.append((owner, name, original))
        setattr(owner, name, timed)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self.patches):
            setattr(owner, name, original)


def profile(workload: Workload, n_bodies: int = 9) -> list[str]:
    """Decode + spans_ingest of a few 512-span bodies in this process, against the same database: the CPU time of
    each stage per body, here and in the PostgreSQL backend, then cProfile's top functions by own time. The
    garbage collector's boot objects are frozen first, as in make run's gunicorn workers (scripts/gunicorn_conf.py)."""
    import gc

    from django.db import connection

    from traces import lean, otlp, services

    project, _ = services.project_create(name=f"bench-profile-{time.time_ns()}")
    (bodies,), _ = workload.stamp(time.time_ns())
    bodies = bodies[: n_bodies + 1]
    # Warm up (imports, the connection, the price table) outside the measurement.
    services.spans_ingest(project=project, raws=otlp.decode_traces_request(bodies[0], "application/x-protobuf")[0])
    bodies = bodies[1:]
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend_pid = cur.fetchone()[0]
    gc.collect()
    gc.freeze()

    with StageTimer(backend_pid) as timer:
        timer.wrap(otlp, "decode_traces_request", "decode")
        timer.wrap(services, "spans_ingest", "spans_ingest")
        timer.wrap(services, "normalize", "normalize", per_call=False)
        timer.wrap(services, "_span_rows", "span rows")
        timer.wrap(services, "redact_span", "redact", per_call=False)
        timer.wrap(lean, "split", "lean split", per_call=False)
        timer.wrap(services, "_pending_log_events", "log events")
        timer.wrap(services, "traces_upsert", "trace upsert")
        timer.wrap(services, "spans_upsert", "span upsert")
        timer.wrap(services, "traces_refresh", "traces_refresh")
        timer.wrap(services, "_enqueue_settle", "enqueue")
        timer.wrap(connection, "commit", "commit")
        began, cpu, db = time.perf_counter(), time.process_time(), timer.backend_cpu()
        for body in bodies:
            raws, _ = otlp.decode_traces_request(body, "application/x-protobuf")
            services.spans_ingest(project=project, raws=raws)
        wall, cpu, db = time.perf_counter() - began, time.process_time() - cpu, timer.backend_cpu() - db
    gc.unfreeze()
    n = len(bodies)
    t = {k: (v[0] * 1000 / n, v[1] * 1000 / n) for k, v in timer.totals.items()}

    out = [
        f"Where one 512-span request's CPU goes (in-process, mean of {n} bodies; HTTP not included): this process | "
        "the PostgreSQL backend"
    ]
    rows = [
        ("decode (otlp.decode_traces_request)", "decode"),
        ("spans_ingest", "spans_ingest"),
        ("  normalize (conventions, pricing)", "normalize"),
        ("  span rows (_span_rows)", "span rows"),
        ("    redaction (traces.redact)", "redact"),
        ("    lean split (traces.lean)", "lean split"),
        ("  pending log events lookup", "log events"),
        ("  trace upsert (traces_upsert)", "trace upsert"),
        ("  span upsert (COPY, GIN search index included)", "span upsert"),
        ("  traces_refresh (aggregates)", "traces_refresh"),
        ("  commit", "commit"),
        ("  enqueue trace_settle (Redis)", "enqueue"),
    ]
    out.append(f"  {'total (decode + spans_ingest)':<48}{cpu * 1000 / n:>8.0f} ms | {db * 1000 / n:>6.0f} ms")
    out.append(f"  {'  (wall, for reference)':<48}{wall * 1000 / n:>8.0f} ms")
    for label, key in rows:
        here, there = t.get(key, (0.0, 0.0))
        out.append(f"  {label:<48}{here:>8.1f} ms | {there:>6.1f} ms")

    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies[:3]:
        services.spans_ingest(project=project, raws=otlp.decode_traces_request(body, "application/x-protobuf")[0])
    profiler.disable()
    out.append("  cProfile, top 12 functions by own time (per body; the profiler inflates Python-heavy code):")
    items = sorted(pstats.Stats(profiler).stats.items(), key=lambda item: item[1][2], reverse=True)[:12]
    for (filename, line, func), (_cc, nc, tt, _ct, _callers) in items:
        where = f"{Path(filename).parent.name}/{Path(filename).name}:{line} {func}"
        out.append(f"    {tt * 1000 / 3:8.1f} ms {nc / 3:>9.0f} calls  {where}")
    return out


# ---------------------------------------------------------------------------------------------------------------


def server_shape(args, env: dict[str, str]) -> dict:
    """`make run`'s gunicorn shape for this database (scripts/supervise.py gunicorn_argv), unless --workers /
    --threads say otherwise: what ships is what is measured."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import supervise

    argv = supervise.gunicorn_argv(sys.executable, {**os.environ, **env}, Path(env["PEEKR_DATA_DIR"]))
    options = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    workers = args.workers or int(options.get("--workers", 2))
    threads = args.threads or int(options.get("--threads", 1))
    kept = ("--worker-class", "--worker-connections", "--keep-alive", "--backlog", "--max-requests", "--config")
    own = not (args.workers or args.threads)  # else plain gthread (keep-alive, any load accepted): the old shape
    extra = [f"{k}={options[k]}" for k in kept if k in options] if own else []
    shown = [arg.replace(str(ROOT) + "/", "") for arg in extra]
    own = "make run's shape, " if own else ""
    return {
        "workers": workers,
        "threads": threads,
        "extra": extra,
        "label": f"{own}{workers} workers x {threads} threads" + (f" ({' '.join(shown)})" if extra else " (gthread)"),
    }


def queued_files(data_dir: Path) -> int:
    """Messages waiting in the filesystem broker (SQLite runs)."""
    return sum(1 for _ in (data_dir / "broker" / "queue").glob("*"))


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0].split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=50_000, help="spans per run (default 50,000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 spans")
    parser.add_argument("--concurrency", default="1,4", help="comma-separated sender counts (default 1,4)")
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite", "both"], default="both",
        help="PostgreSQL (--database-url, recreated) and/or SQLite in a fresh data dir, the laptop default (default both)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: make run's shape)")
    parser.add_argument("--threads", type=int, help="threads per gunicorn worker (default: make run's shape)")
    parser.add_argument(
        "--no-write-queue", action="store_true", help="SQLite: Django's own backend, writers wait on the busy timeout"
    )
    parser.add_argument(
        "--rate", type=float, default=0.0,
        help="spans/s offered by all senders together, on a schedule (default 0: each sends as soon as answered)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="runs per sender count, back to back (default 1)")
    parser.add_argument(
        "--explain", action="store_true",
        help="server timing hooks + pg_stat_activity sampling: where the median and the slowest requests' time goes",
    )  # fmt: skip
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="recreated on every run")
    parser.add_argument("--broker-url", default=DEFAULT_BROKER_URL, help="flushed at the end (a bench-only db)")
    parser.add_argument("--profile", action="store_true", help="also profile decode + spans_ingest in-process")
    parser.add_argument(
        "--no-redact", action="store_true", help="privacy redaction off (PEEKR_REDACT_AT_INGEST=0), to measure its cost"
    )
    parser.add_argument("--overload", action="store_true", help="then the overload run (bench/overload.py)")
    parser.add_argument("--grpc", action="store_true", help="also send over OTLP/gRPC (bench/grpc_ingest.py)")
    parser.add_argument("--grpc-slots", type=int, default=4, help="the gRPC process's ingest limit (default 4)")
    parser.add_argument("--overload-senders", type=int, default=64, help="senders at once (default 64)")
    parser.add_argument("--overload-seconds", type=float, default=30, help="the run's bound (default 30 s)")
    parser.add_argument("--overload-rounds", type=int, default=3, help="passes over the workload to send (default 3)")
    parser.add_argument(
        "--overload-limits", default="2", help="PEEKR_INGEST_MAX_CONCURRENCY values, 0 = none (default 2)"
    )
    parser.add_argument("--overload-workers", type=int, help="gunicorn workers (default: make run's shape)")
    parser.add_argument("--overload-threads", type=int, help="threads per worker (default: make run's shape)")
    args = parser.parse_args()
    n_spans = 5_000 if args.quick else args.spans
    levels = [int(c) for c in args.concurrency.split(",") if c.strip() and int(c) > 0]  # 0: overload only

    if args.database == "both":  # one process per database: Django is set up once per process
        for database in ("postgresql", "sqlite"):
            argv = [a for a in sys.argv[1:] if not a.startswith("--database=")]
            if "--database" in argv:
                i = argv.index("--database")
                del argv[i : i + 2]
            subprocess.run([sys.executable, __file__, *argv, f"--database={database}"], check=False)
        return
    sqlite = args.database == "sqlite"
    bench = _env.prepare(
        database_url=_env.SQLITE if sqlite else args.database_url,
        broker_url=args.broker_url,
        prefix="peekr-bench-",
        # On by default, as in production: every project masks emails, cards and SSNs and hashes user ids.
        extra={
            "PEEKR_REDACT_AT_INGEST": "0" if args.no_redact else "1",
            "PEEKR_SQLITE_WRITE_QUEUE": "0" if args.no_write_queue else "1",
        },
    )
    env, data_dir, redis_client = bench.env, bench.data_dir, bench.redis
    from traces.services import project_create

    print(f"building {n_spans:,} spans ...", end=" ", flush=True)
    began = time.perf_counter()
    workload = Workload.build(n_spans)
    (bodies,), _ = workload.stamp(time.time_ns())
    body_kb = statistics.mean(len(b) for b in bodies) / 1024
    print(f"{time.perf_counter() - began:.1f} s")

    shape = server_shape(args, env)
    server = Server(
        env,
        shape["workers"],
        shape["threads"],
        data_dir / "gunicorn.log",
        timing_dir=data_dir / "timing" if args.explain else None,
        extra_args=shape["extra"],
    )
    results: list[RunResult] = []
    profile_lines: list[str] = []
    overloads = []
    try:
        server.wait_ready()
        _, warm_key = project_create(name="bench-warm-up")
        warm_up(server.port, warm_key, 4 * shape["workers"] * shape["threads"])
        for concurrency in levels:
            for _ in range(args.repeat):
                print(f"sending with {concurrency} sender(s) ...", flush=True)
                results.append(run(concurrency, workload, server.port, server=server, rate=args.rate))
        if args.grpc:
            results += run_grpc(args, workload, env, data_dir, server.port, levels)
        queued = redis_client.llen("celery") if redis_client is not None else queued_files(data_dir)
        sizes = storage() if results else {}
        pg = _env.database_version()
        if args.profile and not sqlite:
            profile_lines = profile(workload)
        server.stop()
        if args.overload:
            overloads = run_overloads(args, workload, env, data_dir)
    finally:
        server.stop()
        bench.close()

    print()
    print(
        f"Peekr ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {pg}"
    )
    print(
        f"server: gunicorn peekr_web.wsgi, {shape['label']}; Celery broker "
        f"{'filesystem' if sqlite else 'Redis'} ({queued} trace_settle messages queued, no worker); client on the "
        "same machine; privacy redaction "
        + ("off (--no-redact)" if args.no_redact else "on (project defaults)")
        + ("; SQLite write queue off (--no-write-queue)" if sqlite and args.no_write_queue else "")
    )
    print(
        f"load: {workload.n_spans:,} spans per run = {len(workload.traces):,} traces x {SPANS_PER_TRACE} spans, "
        f"{len(bodies)} OTLP/protobuf requests of <= {SPANS_PER_REQUEST} spans, {body_kb:,.0f} KB each (no gzip)"
    )
    print()
    if not results:
        print("\n".join(overload_report(overloads, args)))
        return
    header = f"{'senders':>7} | {'spans/s':>8} | {'send s':>6} | {'stored s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'CPU busy':>8} | {'idle load':>9} | {'API sample':>10} | errors"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{getattr(r, 'label', '') + str(r.concurrency):>7} | {r.spans_per_s:>8,.0f} | {r.send_s:>6.1f} | {r.readable_s:>8.1f} | "
            f"{r.pct(0.50):>7.0f} | {r.pct(0.99):>7.0f} | {max(r.latencies_ms):>7.0f} | {r.cpu_busy:>7.0f}% | {r.background:>8.0f}% | "
            f"{f'{r.api_ok}/{r.api_checked}':>10} | {len(r.errors)}"
        )
    print(
        f"{'target':>7} | {f'>= {TARGET_SPANS_PER_S:,}':>8} | {'':>6} | {'':>8} | {'':>7} | {f'< {TARGET_P99_MS}':>7} |"
    )
    print()
    if sqlite:
        print(f"stored: {sizes['file']:,.0f} bytes per span in the SQLite file (+ WAL); {sizes['spans']:,} spans")
    else:
        print(
            f"stored: {sizes['span_total']:,.0f} bytes per span (heap {sizes['span_heap']:,.0f} + TOAST "
            f"{sizes['span_toast']:,.0f} + indexes {sizes['span_indexes']:,.0f}), {sizes['trace_total']:,.0f} bytes "
            f"per trace; {sizes['spans']:,} spans, {sizes['traces']:,} traces in the database"
        )
    for r in results:
        web, database = (cpu * 1e6 / max(1, r.spans) for cpu in r.server_cpu)
        split = (
            "(gunicorn; SQLite runs inside it)"
            if sqlite
            else f"= gunicorn {web:,.0f} + PostgreSQL backends {database:,.0f}"
        )
        print(
            f"{getattr(r, 'label', '')}{r.concurrency} sender(s): server CPU {web + database:,.0f} us per span {split}"
        )
    for r in results:
        met = r.spans_per_s >= TARGET_SPANS_PER_S and r.pct(0.99) < TARGET_P99_MS
        print(f"{getattr(r, 'label', '')}{r.concurrency} sender(s): {'meets' if met else 'MISSES'} the targets", end="")
        print(f"; {len(r.errors)} errors, first: {r.errors[0]}" if r.errors else "")
    print(
        "\nspans/s: from the first request until the database holds every span of the run (each 200 is sent after "
        "commit).\nlatency: per 512-span request, at the client. API sample: the newest trace and "
        f"{API_SAMPLE} random ones read back whole through GET /api/v1/traces[/id].\nCPU busy: the whole machine "
        "(gunicorn, PostgreSQL, this client) during the run; idle load: busy with the bench idle, just before "
        "(other tenants of the machine).\nserver CPU: user + system time of gunicorn's processes and of the "
        "database's backends during the run (/proc), per span stored: steadier than wall times on a shared machine."
    )
    for r in results:
        if r.explained:
            print(f"\n{getattr(r, 'label', '')}{r.concurrency} sender(s), --explain:")
            print("\n".join(r.explained))
    if profile_lines:
        print()
        print("\n".join(profile_lines))
    if overloads:
        print()
        print("\n".join(overload_report(overloads, args)))


def run_grpc(args, workload: Workload, env: dict[str, str], data_dir: Path, http_port: int, levels: list[int]):
    """The same runs over OTLP/gRPC (one `manage.py peekr_grpc` process); rows labelled "g" in the table."""
    from grpc_ingest import GrpcServer, send_all_grpc

    server = GrpcServer(env, args.grpc_slots, data_dir / "grpc.log")
    out = []
    try:
        server.wait_ready()
        for concurrency in levels:
            print(f"sending over gRPC with {concurrency} sender(s) ...", flush=True)
            result = run(concurrency, workload, http_port, send=lambda key, plan: send_all_grpc(server.port, key, plan))
            result.label = "g"
            out.append(result)
    finally:
        server.stop()
    return out


def run_overloads(args, workload: Workload, env: dict[str, str], data_dir: Path) -> list:
    # bench/overload.py imports this module as `ingest`; run as a script it is `__main__`, so register it under
    # that name first, or the import would load (and set up) a second copy.
    sys.modules.setdefault("ingest", sys.modules[__name__])
    import overload

    shape = server_shape(argparse.Namespace(workers=args.overload_workers, threads=args.overload_threads), env)
    args.overload_workers, args.overload_threads = shape["workers"], shape["threads"]
    results = []
    for limit in (int(v) for v in args.overload_limits.split(",") if v.strip()):
        print(f"overload: {args.overload_senders} senders, PEEKR_INGEST_MAX_CONCURRENCY={limit} ...", flush=True)
        results.append(
            overload.run_overload(
                workload, env, data_dir, limit=limit, senders=args.overload_senders, seconds=args.overload_seconds,
                workers=args.overload_workers, threads=args.overload_threads, rounds=args.overload_rounds,
                extra_args=shape["extra"],
            )
        )  # fmt: skip
    return results


def overload_report(results: list, args) -> list[str]:
    import overload

    return overload.report(results, args.overload_workers, args.overload_threads, args.overload_seconds)


if __name__ == "__main__":
    main()
