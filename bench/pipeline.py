"""What happens after ingest: does the worker keep up? Lag per stage, backlog, drain time, the rate it holds.

    .venv/bin/python bench/pipeline.py --rate 1000 --duration 120          # one run, built-in rules, no judge
    .venv/bin/python bench/pipeline.py --duration 120 --judge              # then a run with a 200 ms judge
    .venv/bin/python bench/pipeline.py --step-search 250 --step-seconds 60 --step-max 1000  # highest flat rate

It starts Peekr as `make run` does (scripts/supervise.py's gunicorn and `celery worker --beat` command lines;
--web-workers/--web-threads/--workers/--worker-concurrency/--worker-args change the shape) on its own
PostgreSQL database (`peekr_bench_pipeline`, recreated and migrated, dropped at the end) and Redis db 8, each
process in a session of its own. The worker is started with `-A <a module in the temporary directory>`:
peekr_web's Celery app unchanged plus two task signals that append one line per finished task (name, first
argument, end time, thread CPU and wall time) to a file per process; no product code changes.

Each run sends into a fresh project set up as `make run`'s demo project (built-in rules, the "Flagged by
Peekr" review queue and its routing rules; with --judge also a rubric judge rule at --judge-sample-rate,
judged by tests/fake_openai.py answering after 200 ms, in its own process). Traffic: bench/ingest.py's
six-span RAG + tool traces (1-2 KB inputs per chat call), whole traces per OTLP/protobuf request of
--traces-per-request traces, fresh ids and a fresh marker in every output (the judge cache never answers), at
--rate spans/s paced by a clock, from --senders keep-alive connections that retry 429/503 after Retry-After
for up to 10 s as an exporter does.

Every --report-every s it prints the backlog: the broker's lists (LLEN per queue) and `unacked` (messages the
workers hold, ETA tasks included), and per stage how many completed traces wait and how old the oldest is.
At the end: the ingest rate held; per stage (complete = quiet period included, from the trace's last span;
rules, detectors, routing, judge = from completion) lag p50 / p95 / max; worker CPU ms per trace (all its
processes, from /proc) and per task (thread CPU, from the task lines); the share of traces processed by every
stage, and how long each stage took to drain after the load stopped (or an estimate when --drain-timeout cut
it short). Where a stage is done is read, in this order, from per-stage time columns on Trace
(evaluated_at, detected_at, routed_at), from Trace.stages_done + processed_at (traces/pipeline.py's stage
bits: done per stage, but one time for all stages), else from the task lines (evals.evaluate_trace,
insights.trace_detect, annotations.route_trace with that trace pk succeeded).

--app-root DIR runs another copy of the code (e.g. `git archive HEAD | tar -x -C DIR`) with this bench.
It cleans up whatever happens and prints figures, never asserts on them. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

import eval_overhead as eo  # noqa: E402  (process groups, /proc, the fake judge, drain/purge)
import ingest  # noqa: E402  (workload, PostgreSQL, Redis)
import supervise  # noqa: E402  (make run's command lines)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_pipeline"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/8"
STAGES = ("complete", "rules", "detectors", "routing", "judge")
STAGE_TASKS = {
    "evals.evaluate_trace": "rules",
    "insights.trace_detect": "detectors",
    "annotations.route_trace": "routing",
}
MARKER_COLUMNS = {"rules": "evaluated_at", "detectors": "detected_at", "routing": "routed_at"}
PIPELINE_STAGE_NAMES = {"rules": "evaluate", "detectors": "detect", "routing": "route"}  # traces/pipeline.py

WORKER_APP = '''"""The pipeline bench's Celery entry point: peekr_web's app, plus one line per finished task."""
import json
import os
import time

from celery.signals import task_postrun, task_prerun

from peekr_web.celery import app  # noqa: F401

_began = {}
_fd = {}


@task_prerun.connect
def _pre(task_id=None, **kw):
    _began[task_id] = (time.thread_time(), time.perf_counter())


@task_postrun.connect
def _post(task_id=None, task=None, args=None, state=None, **kw):
    began = _began.pop(task_id, None)
    if began is None:
        return
    pid = os.getpid()
    if pid not in _fd:
        path = os.path.join(os.environ["PEEKR_BENCH_TASK_LOG"], f"{pid}.jsonl")
        _fd[pid] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    arg = args[0] if args else None
    cpu, wall = time.thread_time() - began[0], time.perf_counter() - began[1]
    os.write(_fd[pid], (json.dumps([task.name, arg, time.time(), cpu, wall, state]) + "\\n").encode())
'''


# ---------------------------------------------------------------------------------------------------------------
# Processes


def set_option(argv: list[str], name: str, value) -> list[str]:
    out = list(argv)
    out[out.index(name) + 1] = str(value)
    return out


class Proc:
    """A process in a session of its own (stopping it stops its children: gunicorn's and prefork's)."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path, cwd: Path):
        self.name, self.argv, self.env, self.log, self.cwd = name, argv, env, log, cwd
        self.hostname = argv[argv.index("--hostname") + 1] if "--hostname" in argv else ""
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        eo.stop_session(self.proc)


def make_run_shape(app_root: Path):
    """The supervise module of the code under test (scripts/supervise.py), else this tree's: the same command
    lines as its `make run`. A judge worker is started only when that code has one."""
    path = app_root / "scripts" / "supervise.py"
    if not path.exists():
        return supervise, False
    spec = importlib.util.spec_from_file_location("supervise_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module, hasattr(module, "judge_worker_argv")


def worker_procs(args, env: dict, data_dir: Path, shape, judges: bool) -> list[Proc]:
    py = sys.executable
    extra = args.worker_args or [""]
    argvs = []
    for i in range(args.workers):
        argv = set_option(shape.worker_argv(py, env, data_dir), "-A", "pipeline_worker_app")
        if i:
            argv.remove("--beat")  # one beat only
        argvs.append(argv + shlex.split(extra[i % len(extra)]))
    if judges:
        argvs.append(set_option(shape.judge_worker_argv(py, env), "-A", "pipeline_worker_app"))
    procs = []
    for i, argv in enumerate(argvs):
        name = f"bench{i}-{os.getpid()}@{platform.node() or 'localhost'}"
        argv = set_option(argv, "--hostname", name) if "--hostname" in argv else [*argv, "--hostname", name]
        procs.append(Proc(f"worker{i}", argv, env, data_dir / f"worker-{i}.log", args.app_root))
    return procs


def start_processes(args, env: dict, data_dir: Path) -> tuple[Proc, list[Proc], int]:
    port = ingest.free_port()
    py = sys.executable
    shape, judges = make_run_shape(args.app_root)
    base = {**os.environ, **env, "PYTHONPATH": f"{data_dir}{os.pathsep}{args.app_root}"}
    web_env = {**base, "PEEKR_BIND": "127.0.0.1", "PEEKR_PORT": str(port), "PEEKR_WEB_WORKERS": str(args.web_workers)}
    web_argv = set_option(shape.gunicorn_argv(py, web_env, data_dir), "--threads", args.web_threads)
    web = Proc("web", web_argv, web_env, data_dir / "web.log", args.app_root)
    (data_dir / "pipeline_worker_app.py").write_text(WORKER_APP)
    worker_env = {**base, "PEEKR_WORKER_CONCURRENCY": str(args.worker_concurrency)}
    return web, worker_procs(args, worker_env, data_dir, shape, judges), port


def wait_ready(app, web: Proc, workers: list[Proc], port: int, timeout: float = 180) -> None:
    began = time.monotonic()
    deadline = began + timeout
    while time.monotonic() < deadline:
        if healthz(port)[0] == 200:
            break
        if web.proc.poll() is not None:
            deadline = 0
        time.sleep(0.3)
    else:
        raise RuntimeError(f"gunicorn did not start:\n{web.log.read_text(errors='replace')[-3000:]}")
    for w in workers:
        while not app.control.ping(destination=[w.hostname], timeout=0.5):
            if time.monotonic() > deadline or w.proc.poll() is not None:
                raise RuntimeError(f"{w.name} did not answer:\n{w.log.read_text(errors='replace')[-3000:]}")
    print(f"web and {len(workers)} worker(s) ready in {time.monotonic() - began:.0f} s", flush=True)


def healthz(port: int) -> tuple[int, str]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        return resp.status, resp.read(300).decode(errors="replace")
    except OSError as exc:
        return 0, repr(exc)


class CpuTracker:
    """CPU seconds of the processes of some sessions, summed from per-process deltas sampled every few
    seconds (a process that exits between two samples loses at most that much)."""

    def __init__(self):
        self.last: dict[int, float] = {}
        self.total: dict[str, float] = {}

    def sample(self, sessions: dict[str, list[int]]) -> None:
        by_session = {sid: name for name, sids in sessions.items() for sid in sids}
        seen = {}
        for pid, info in eo.proc_table().items():
            name = by_session.get(info["session"])
            if name is None:
                continue
            seen[pid] = info["cpu"]
            self.total[name] = self.total.get(name, 0.0) + info["cpu"] - self.last.get(pid, 0.0)
        self.last = seen


# ---------------------------------------------------------------------------------------------------------------
# Load


class Load:
    """Whole traces, --traces-per-request per body, paced at `rate` spans/s from `senders` threads."""

    def __init__(self, port: int, key: str, rate: float, duration: float, args, seed: int):
        per_body = args.traces_per_request * ingest.SPANS_PER_TRACE
        ingest.SPANS_PER_REQUEST = max(ingest.SPANS_PER_REQUEST, per_body)  # stamp() cuts bodies at this size
        self.templates = [ingest.Workload.build(per_body, seed=seed + i) for i in range(8)]
        self.originals: dict[tuple, str] = {}
        self.port, self.key, self.duration, self.senders = port, key, duration, args.senders
        self.interval = per_body / rate
        self.next = 0
        self.lock, self.build_lock = threading.Lock(), threading.Lock()
        self.stop = threading.Event()
        self.accepted_spans = self.accepted_traces = self.dropped_spans = self.throttled = self.reconnects = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.max_late = 0.0
        self.t0 = self.t_end = 0.0

    def body(self, k: int) -> tuple[bytes, int]:
        n = k % len(self.templates)
        workload = self.templates[n]
        # A fresh marker in every output (the judge cache misses) and a fresh session per trace: templates are
        # re-sent every few seconds, and the same question in the same session again is a rephrase, so reused
        # session ids made every trace a user signal (a storm no real traffic sends).
        for j, trace in enumerate(workload.traces):
            for i, span in enumerate(trace):
                for attr in span.attributes:
                    if attr.key == "session.id":
                        attr.value.string_value = f"sess-{k}-{j}"
                    if attr.key == "gen_ai.output.messages":
                        orig = self.originals.setdefault((n, j, i), attr.value.string_value)
                        attr.value.string_value = orig.replace('"content":"', f'"content":"[{k}.{j}] ', 1)
        (bodies,), _ = workload.stamp(time.time_ns())
        return bodies[0], workload.n_spans

    def start(self) -> None:
        self.t0 = time.monotonic() + 0.5
        self.threads = [threading.Thread(target=self.sender, daemon=True) for _ in range(self.senders)]
        for t in self.threads:
            t.start()

    def running(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def join(self) -> None:
        for t in self.threads:
            t.join()
        self.t_end = time.monotonic()

    def sender(self) -> None:
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {self.key}"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            with self.lock:
                k, self.next = self.next, self.next + 1
            due = self.t0 + k * self.interval
            if due >= self.t0 + self.duration:
                break
            if self.stop.wait(max(0.0, due - time.monotonic())):
                break
            with self.build_lock:
                self.max_late = max(self.max_late, time.monotonic() - due)
                body, n = self.body(k)
            conn = self.post(conn, body, n, headers)
        conn.close()

    def post(self, conn, body: bytes, n: int, headers: dict):
        give_up = time.monotonic() + 10  # the OpenTelemetry exporters' default timeout
        while time.monotonic() < give_up:
            began = time.perf_counter()
            try:
                conn.request("POST", "/v1/traces", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.used = True
            except (OSError, http.client.HTTPException) as exc:
                reused = getattr(conn, "used", False)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                with self.lock:  # gunicorn closes a keep-alive connection idle for 2 s: reconnect, as exporters do
                    self.reconnects += 1
                    if not reused:
                        self.errors.append(repr(exc))
                        time.sleep(0.5)
                continue
            if resp.status in (429, 502, 503, 504):
                with self.lock:
                    self.throttled += 1
                time.sleep(min(float(resp.getheader("Retry-After") or 1), max(0.0, give_up - time.monotonic())))
                continue
            with self.lock:
                if resp.status == 200:
                    rejected = ingest.ExportTraceServiceResponse.FromString(data).partial_success.rejected_spans
                    self.accepted_spans += n - rejected
                    self.accepted_traces += n // ingest.SPANS_PER_TRACE
                    self.latencies.append((time.perf_counter() - began) * 1000)
                else:
                    self.errors.append(f"HTTP {resp.status} {data[:200]!r}")
            return conn
        with self.lock:
            self.dropped_spans += n
        return conn


# ---------------------------------------------------------------------------------------------------------------
# Where each trace is: the database, the task lines, the broker


class TaskLog:
    """The worker processes' task lines, read incrementally."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.offsets: dict[Path, int] = {}
        self.done: dict[str, dict[int, float]] = {s: {} for s in STAGES}  # stage -> trace pk -> first success
        self.judge_scores: dict[int, float] = {}  # score pk -> last run_judge end
        self.per_task: dict[str, list[float]] = {}  # name -> [count, cpu s, wall s]

    def skip_to_end(self) -> None:
        for path in self.dir.glob("*.jsonl"):
            self.offsets[path] = path.stat().st_size

    def read(self) -> None:
        for path in self.dir.glob("*.jsonl"):
            with path.open() as f:
                f.seek(self.offsets.get(path, 0))
                chunk = f.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            self.offsets[path] = self.offsets.get(path, 0) + len(complete.encode())
            for line in complete.splitlines():
                self.add(*json.loads(line))

    def add(self, name, arg, ended, cpu, wall, state) -> None:
        entry = self.per_task.setdefault(name, [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += cpu
        entry[2] += wall
        if state != "SUCCESS":
            return
        if name == "evals.run_judge":
            self.judge_scores[arg] = ended
        elif name in STAGE_TASKS:
            for pk in arg if isinstance(arg, list) else [arg]:
                self.done[STAGE_TASKS[name]].setdefault(pk, ended)


def marker_mode() -> tuple[str, dict]:
    """How stage completion is read: ("columns", {stage: column}), ("bits", {stage: bit}) or ("tasks", {})."""
    from traces.models import Trace

    names = {f.name for f in Trace._meta.get_fields()}
    columns = {s: c for s, c in MARKER_COLUMNS.items() if c in names}
    if len(columns) == len(MARKER_COLUMNS):
        return "columns", columns
    if "stages_done" in names and "processed_at" in names:
        from traces.pipeline import STAGES as PIPELINE

        bits = {s.name: s.bit for s in PIPELINE}
        return "bits", {stage: bits[name] for stage, name in PIPELINE_STAGE_NAMES.items() if name in bits}
    return "tasks", {}


def trace_rows(project_pk: int, mode: str, markers: dict) -> list[dict]:
    from traces.models import Trace

    fields = ["pk", "completed_at", "last_span_at"]
    fields += list(markers.values()) if mode == "columns" else ["stages_done", "processed_at"] if mode == "bits" else []
    return list(Trace.objects.filter(project_id=project_pk, is_internal=False).values(*fields))  # not judge calls


def stage_times(row: dict, mode: str, markers: dict, log: TaskLog) -> dict[str, float | None]:
    """stage -> when it was done for this trace (epoch s), None if not yet; "complete" included."""
    done = row["completed_at"].timestamp() if row["completed_at"] else None
    out = {"complete": done}
    for stage in ("rules", "detectors", "routing"):
        if done is None:
            out[stage] = None
        elif mode == "columns":
            value = row[markers[stage]]
            out[stage] = value.timestamp() if value else None
        elif mode == "bits":
            ok = stage in markers and row["stages_done"] & markers[stage]
            out[stage] = (row["processed_at"] or datetime.now(UTC)).timestamp() if ok else None
        else:
            out[stage] = log.done[stage].get(row["pk"])
    return out


def backlog(redis_client, project_pk: int, mode: str, markers: dict, log: TaskLog) -> dict:
    log.read()
    queues = {}
    for key in redis_client.scan_iter(count=1000):
        if redis_client.type(key) == b"list":
            queues[key.decode(errors="replace").replace("\x06\x16", ":")] = redis_client.llen(key)
    now = time.time()
    waiting = {s: 0 for s in STAGES[:4]}
    oldest = {s: 0.0 for s in STAGES[:4]}
    done = {s: 0 for s in STAGES[:4]}
    rows = trace_rows(project_pk, mode, markers)
    for row in rows:
        times = stage_times(row, mode, markers, log)
        for stage in STAGES[:4]:
            done[stage] += times[stage] is not None
            if times[stage] is None:
                since = row["last_span_at"] if stage == "complete" else row["completed_at"]
                if since is None:
                    continue
                waiting[stage] += 1
                oldest[stage] = max(oldest[stage], now - since.timestamp())
    return {
        "t": time.monotonic(),
        "queues": queues,
        "queued": sum(queues.values()),
        "unacked": redis_client.hlen("unacked"),
        "waiting": waiting,
        "oldest": oldest,
        "done": done,
        "traces": len(rows),
    }


def describe_backlog(label: str, b: dict, since: float) -> str:
    queues = ", ".join(f"{k} {v}" for k, v in sorted(b["queues"].items()) if v) or "empty"
    stages = ", ".join(f"{s} {b['waiting'][s]} (oldest {b['oldest'][s]:.0f} s)" for s in STAGES[:4])
    return f"  [{label} {b['t'] - since:6.0f} s] queues: {queues}; unacked {b['unacked']}; waiting: {stages}"


# ---------------------------------------------------------------------------------------------------------------
# One run


@dataclass
class RunResult:
    label: str
    rate: float
    duration: float
    load: Load
    samples: list[dict] = field(default_factory=list)
    lags: dict[str, list[float]] = field(default_factory=dict)
    traces: int = 0
    stored_spans: int = 0
    processed: dict[str, int] = field(default_factory=dict)
    drained_after: dict[str, float | None] = field(default_factory=dict)
    drain_estimate: dict[str, float] = field(default_factory=dict)
    worker_cpu_s: float = 0.0
    web_cpu_s: float = 0.0
    per_task: dict[str, list[float]] = field(default_factory=dict)
    loadavg: tuple = ()
    busy: float = 0.0
    healthz: tuple = ()
    flat: bool | None = None
    mode: str = ""
    drain_timeout: float = 0.0


def project_setup(label: str, judge_url: str, sample_rate: float):
    """A project as `make run`'s demo one (built-in rules, the review queue and its routing rules), and
    with a judge: a rubric rule on llm spans at sample_rate."""
    from traces.services import project_create

    try:
        from traces.extensions import demo_project_created
    except ImportError:  # code from before traces.extensions
        from traces.management.commands.peekr_setup import demo_queue_create as demo_project_created

    project, key = project_create(name=f"bench-pipeline-{label}-{time.time_ns()}")
    demo_project_created(project)  # as peekr_setup: the review queue and its routing rules
    if judge_url:
        from evals.services import eval_rule_create

        common = dict(project=project, name="bench judge", evaluators=["rubric"], filter={"kind": "llm"},
                      sample_rate=sample_rate, judge_model=eo.JUDGE_MODEL, config=eo.RUBRIC)  # fmt: skip
        try:
            from evals.connections import judge_connection_create
        except ImportError:  # code from before judge connections
            eval_rule_create(**common, judge_base_url=judge_url)
        else:
            conn = judge_connection_create(
                project=project, user=None, name="bench judge", base_url=judge_url, api_key=""
            )
            eval_rule_create(**common, judge_connection_id=conn.pk)
    return project, key


def run_load(label: str, rate: float, duration: float, args, ctx: dict, judge_url: str = "") -> RunResult:
    from traces.models import Span

    project, key = project_setup(label, judge_url, args.judge_sample_rate)
    log: TaskLog = ctx["log"]
    log.skip_to_end()
    log.per_task = {}
    mode, markers = ctx["mode"]
    load = Load(ctx["port"], key, rate, duration, args, seed=len(ctx["results"]) * 100 + 11)
    res = RunResult(label=label, rate=rate, duration=duration, load=load, mode=mode)
    cpu: CpuTracker = ctx["cpu"]
    cpu.sample(ctx["sessions"]())
    cpu0 = dict(cpu.total)
    busy0 = ingest.cpu_times()
    print(f"{label}: {rate:,.0f} spans/s for {duration:.0f} s ...", flush=True)
    load.start()
    restarts = sorted(args.restart_worker_at)
    next_sample = next_report = time.monotonic()
    while load.running():
        now = time.monotonic()
        if restarts and now - load.t0 >= restarts[0]:
            restarts.pop(0)
            restart_worker(ctx)
        cpu.sample(ctx["sessions"]())
        if now >= next_sample:
            res.samples.append(backlog(ctx["redis"], project.pk, mode, markers, log))
            next_sample += args.sample_every
            if now >= next_report:
                print(describe_backlog("load", res.samples[-1], load.t0), flush=True)
                next_report += args.report_every
        time.sleep(1.0)
    load.join()
    res.busy = busy_share(busy0)
    res.loadavg = os.getloadavg()
    res.flat = flat(res.samples, load.t0, duration, burst=3 * args.traces_per_request)
    res.drain_timeout = args.drain_timeout
    drain_phase(res, project.pk, args, ctx)
    cpu.sample(ctx["sessions"]())
    res.worker_cpu_s = cpu.total.get("worker", 0.0) - cpu0.get("worker", 0.0)
    res.web_cpu_s = cpu.total.get("web", 0.0) - cpu0.get("web", 0.0)
    res.per_task = {k: list(v) for k, v in log.per_task.items()}
    res.stored_spans = Span.objects.filter(project_id=project.pk, trace__is_internal=False).count()
    res.healthz = healthz(ctx["port"])
    final_figures(res, project.pk, mode, markers, log)
    return res


def busy_share(before: tuple[int, int]) -> float:
    after = ingest.cpu_times()
    return (after[0] - before[0]) / max(1, after[1] - before[1]) * 100


def restart_worker(ctx: dict) -> None:
    worker = ctx["workers"][0]
    print(f"  restarting {worker.name} (SIGTERM to its session, then a new one)", flush=True)
    worker.stop()
    worker.start()


def flat(samples: list[dict], t0: float, duration: float, burst: int) -> bool | None:
    """The backlog stayed flat over the load's second half: between the first and the last third of it, the
    mean queue depth grew by no more than 20 % + `burst` messages (one request's traces settle together and
    enqueue their tasks at once) and the mean age of the oldest waiting trace (complete, rules, detectors; not
    routing, which waits 60 s by design) by no more than 10 s."""
    half = [s for s in samples if s["t"] - t0 >= duration / 2]
    if len(half) < 3:
        return None
    third = max(1, len(half) // 3)
    a, b = half[:third], half[-third:]

    def mean(part, key):
        if key == "queued":
            return sum(s["queued"] for s in part) / len(part)
        return sum(max(s["oldest"][x] for x in ("complete", "rules", "detectors")) for s in part) / len(part)

    return mean(b, "queued") <= mean(a, "queued") * 1.2 + burst and mean(b, "age") <= mean(a, "age") + 10


def drain_phase(res: RunResult, project_pk: int, args, ctx: dict) -> None:
    """After the load: sample until every stage has caught up or --drain-timeout; then estimate what is left."""
    mode, markers = ctx["mode"]
    began = time.monotonic()
    res.drained_after = {s: None for s in STAGES[:4]}
    next_report = began
    first = None
    while True:
        b = backlog(ctx["redis"], project_pk, mode, markers, ctx["log"])
        res.samples.append(b)
        first = first or b
        ctx["cpu"].sample(ctx["sessions"]())
        for stage in STAGES[:4]:
            if res.drained_after[stage] is None and b["waiting"][stage] == 0:
                res.drained_after[stage] = b["t"] - began
        if time.monotonic() >= next_report:
            print(describe_backlog("drain", b, began), flush=True)
            next_report += args.report_every
        if all(v is not None for v in res.drained_after.values()) or time.monotonic() - began >= args.drain_timeout:
            break
        time.sleep(2.0)
    elapsed = b["t"] - first["t"]
    for stage in STAGES[:4]:  # what was left (traces not through this stage), at the drain's pace for it
        if res.drained_after[stage] is None:
            done, left = b["done"][stage] - first["done"][stage], b["traces"] - b["done"][stage]
            res.drain_estimate[stage] = elapsed * left / done + elapsed if done > 0 else float("inf")


def final_figures(res: RunResult, project_pk: int, mode: str, markers: dict, log: TaskLog) -> None:
    from evals.models import Score

    log.read()
    rows = trace_rows(project_pk, mode, markers)
    res.traces = len(rows)
    lags: dict[str, list[float]] = {s: [] for s in STAGES}
    processed = {s: 0 for s in (*STAGES[:4], "all")}
    judged_traces: dict[int, float] = {}
    if log.judge_scores:
        for pk, trace_pk in Score.objects.filter(pk__in=list(log.judge_scores)).values_list("pk", "trace_id"):
            judged_traces[trace_pk] = max(judged_traces.get(trace_pk, 0.0), log.judge_scores[pk])
    for row in rows:
        times = stage_times(row, mode, markers, log)
        done = times["complete"]
        if done is not None:
            lags["complete"].append(done - row["last_span_at"].timestamp())
        for stage in STAGES[1:4]:
            if times[stage] is not None:
                lags[stage].append(times[stage] - done)
                processed[stage] += 1
        processed["complete"] += done is not None
        processed["all"] += all(times[s] is not None for s in STAGES[:4])
        if row["pk"] in judged_traces and done is not None:
            lags["judge"].append(judged_traces[row["pk"]] - done)
    res.lags, res.processed = lags, processed


# ---------------------------------------------------------------------------------------------------------------
# Report


def report(res: RunResult, args) -> list[str]:
    load = res.load
    sent_s = max(1e-9, load.t_end - load.t0)
    out = [
        f"{res.label}: offered {res.rate:,.0f} spans/s for {res.duration:.0f} s "
        f"({res.rate / ingest.SPANS_PER_TRACE:,.0f} traces/s); machine CPU busy {res.busy:.0f} % during the load, "
        f"load average {res.loadavg[0]:.1f} / {res.loadavg[1]:.1f} / {res.loadavg[2]:.1f} (1/5/15 min) at its end",
        f"  ingest: {load.accepted_spans:,} spans accepted = {load.accepted_spans / sent_s:,.0f} spans/s held; "
        f"{res.stored_spans:,} stored, {load.dropped_spans:,} dropped after 10 s of retries, {load.throttled} "
        f"429/503 answers, {len(load.errors)} errors{' (' + load.errors[0][:80] + ')' if load.errors else ''}; request p50 {eo.pct(load.latencies, 0.5):.0f} ms, p99 "
        f"{eo.pct(load.latencies, 0.99):.0f} ms; the senders ran at most {load.max_late:.1f} s behind the clock",
        f"  lag per stage (s) | traces |    p50 |    p95 |    max    (stages read from: {res.mode})",
    ]
    for stage in STAGES:
        lags = res.lags.get(stage, [])
        if lags:
            p50, p95, top = eo.pct(lags, 0.5), eo.pct(lags, 0.95), max(lags)
            out.append(f"  {stage:<17} | {len(lags):>6} | {p50:6.1f} | {p95:6.1f} | {top:6.1f}")
        else:
            out.append(f"  {stage:<17} | {0:>6} |      - |      - |      -")
    out.append("  complete: from the trace's last span (the quiet period included); the others: from completion")
    n = max(1, res.traces)
    shares = ", ".join(f"{s} {res.processed[s] / n:.1%}" for s in (*STAGES[:4], "all"))
    out.append(f"  processed by the end ({res.traces:,} traces): {shares}")
    drains = []
    for stage in STAGES[:4]:
        if res.drained_after.get(stage) is not None:
            drains.append(f"{stage} {res.drained_after[stage]:.0f} s")
        else:
            est = res.drain_estimate.get(stage, float("inf"))
            drains.append(f"{stage} not in {res.drain_timeout:.0f} s (est. {est:,.0f} s)")
    out.append("  drained after the load stopped: " + ", ".join(drains))
    evaluated = max(1, res.processed["rules"])
    out.append(  # the worker also settled traces not yet evaluated: an upper bound while a backlog is left
        f"  worker CPU: {res.worker_cpu_s:.1f} s = {res.worker_cpu_s * 1000 / evaluated:.1f} ms per evaluated trace "
        f"({res.processed['rules']:,}); web CPU {res.web_cpu_s:.1f} s = "
        f"{res.web_cpu_s * 1000 / max(1, res.traces):.1f} ms per trace ingested"
    )
    tasks = sorted(res.per_task.items(), key=lambda kv: -kv[1][1])
    out.append(
        "  per task (count, thread CPU ms / wall ms per task): "
        + "; ".join(f"{k} {int(v[0])}, {v[1] * 1000 / v[0]:.1f} / {v[2] * 1000 / v[0]:.0f}" for k, v in tasks)
    )
    if res.flat is not None:
        out.append(f"  backlog over the load's second half: {'flat' if res.flat else 'GROWING'}")
    out.append(f"  /healthz at the end: {res.healthz[0]} {res.healthz[1][:200]}")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Main


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=1000, help="spans/s offered (default 1000)")
    p.add_argument("--duration", type=float, default=600, help="s of load per run (default 600)")
    p.add_argument("--drain-timeout", type=float, default=300, help="s to wait for the backlog after the load")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (make run: 2)")
    p.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker (make run: 4)")
    p.add_argument("--workers", type=int, default=1, help="celery worker processes (make run: 1, with --beat)")
    p.add_argument("--worker-concurrency", type=int, default=2, help="pool processes per worker (make run: 2)")
    p.add_argument("--worker-args", action="append", help="extra worker arguments, e.g. '-Q fast'; repeat: "
                   "worker i gets the i-th (modulo)")  # fmt: skip
    p.add_argument("--senders", type=int, default=4, help="sending threads/connections (default 4)")
    p.add_argument("--traces-per-request", type=int, default=85, help="traces per OTLP request (85 = 510 spans)")
    p.add_argument("--judge", action="store_true", help="then a run with a rubric judge answering after 200 ms")
    p.add_argument("--judge-delay", type=float, default=0.2, help="the fake judge's answer time (s)")
    p.add_argument("--judge-sample-rate", type=float, default=0.01, help="the judge rule's sample rate")
    p.add_argument("--step-search", type=float, default=0, help="first rate of a step search (spans/s; 0: none)")
    p.add_argument("--step-factor", type=float, default=2.0, help="rate multiplier between steps")
    p.add_argument("--step-seconds", type=float, default=60, help="s of load per step")
    p.add_argument("--step-max", type=float, default=8000, help="highest rate tried")
    p.add_argument("--step-min", type=float, default=50, help="lowest rate tried when stepping down")
    p.add_argument("--step-drain", type=float, default=75, help="s of drain after a step before purging")
    p.add_argument("--quiet-seconds", type=float, help="PEEKR_TRACE_QUIET_SECONDS (default: the product's)")
    p.add_argument("--restart-worker-at", type=float, action="append", default=[], help="s into the load")
    p.add_argument("--report-every", type=float, default=30, help="s between backlog lines")
    p.add_argument("--sample-every", type=float, default=10, help="s between backlog samples")
    p.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="a peekr_bench* database, recreated")
    p.add_argument("--broker-url", default=DEFAULT_BROKER_URL, help="a Redis db of its own, flushed")
    p.add_argument("--app-root", type=Path, default=ROOT, help="the code to run (default: this tree)")
    p.add_argument("--keep-logs", action="store_true", help="keep the temporary directory (process logs)")
    p.add_argument(
        "--analyze-every",
        type=float,
        default=60,
        help="s between VACUUM ANALYZE runs when the "
        "server's autovacuum is off (it is on this machine; production keeps it on); 0: never",
    )
    return p.parse_args()


def use_app_root(app_root: Path) -> None:
    """The product code comes from app_root only (the bench modules stay importable from bench/)."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]
    sys.path.insert(0, str(app_root))
    os.chdir(app_root)  # celery's Django fixup puts the working directory first on sys.path


class Autovacuum:
    """What the server's autovacuum would do, when it is off (as on these machines): every ``every`` s, VACUUM
    ANALYZE the tables the pipeline rewrites. Without it the statistics stay those of an empty database and
    PostgreSQL plans lookups on the wrong indexes as the tables grow, which no production server sees."""

    TABLES = ("traces_trace", "traces_span", "evals_score", "insights_finding", "insights_insight",
              "annotations_queueitem")  # fmt: skip

    def __init__(self, url: str, every: float):
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            self.on = conn.execute("SHOW autovacuum").fetchone()[0] == "on"
        self.url, self.every, self.runs = url, every, 0
        if not self.on and every > 0:
            threading.Thread(target=self.loop, daemon=True).start()
        print(
            f"server autovacuum: {'on' if self.on else 'off'}"
            + ("" if self.on or every <= 0 else f"; the bench runs VACUUM ANALYZE every {every:g} s"),
            flush=True,
        )

    def loop(self) -> None:
        import psycopg

        while True:
            time.sleep(self.every)
            try:
                with psycopg.connect(self.url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
                    conn.execute(f"VACUUM (ANALYZE) {', '.join(self.TABLES)}")
                self.runs += 1
            except Exception as exc:  # noqa: BLE001 - the database may be gone at the end of the run
                print(f"  (VACUUM ANALYZE failed: {exc})", flush=True)


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on `timeout` / kill as on Ctrl-C
    args.app_root = args.app_root.resolve()
    use_app_root(args.app_root)
    for name in list(sys.modules):  # eval_overhead's imports loaded some of this tree's packages: forget them
        if name.split(".")[0] in ("annotations", "evals", "insights", "peekr_web", "traces", "tests"):
            del sys.modules[name]
    ingest.ensure_postgres(args.database_url)
    ingest.recreate_database(args.database_url)  # refuses any name but peekr_bench*
    redis_client = ingest.check_redis(args.broker_url)
    redis_client.flushdb()
    data_dir = Path(tempfile.mkdtemp(prefix="peekr-bench-pipeline-"))
    (data_dir / "tasks").mkdir()
    env = {
        "DJANGO_SETTINGS_MODULE": "peekr_web.settings",
        "PEEKR_DATABASE_URL": args.database_url,
        "PEEKR_BROKER_URL": args.broker_url,
        "PEEKR_DATA_DIR": str(data_dir),
        "PEEKR_DEBUG": "0",
        "PEEKR_JUDGE_BASE_URL": "",
        "PEEKR_JUDGE_MODEL": "",
        "PEEKR_JUDGE_ALLOW_PRIVATE": "1",  # the bench's judge listens on 127.0.0.1
        "PEEKR_BENCH_TASK_LOG": str(data_dir / "tasks"),
    }
    if args.quiet_seconds is not None:
        env["PEEKR_TRACE_QUIET_SECONDS"] = str(args.quiet_seconds)
    started = datetime.now(UTC)
    procs: list = []
    results: list[RunResult] = []
    try:
        use_app_root(args.app_root)
        ingest.setup_django(env)
        from peekr_web.celery import app

        web, workers, port = start_processes(args, env, data_dir)
        procs += [web, *workers]
        judge = eo.Judge("rubric", args.judge_delay, data_dir) if args.judge else None
        procs += [judge] if judge else []
        ctx = {
            "redis": redis_client, "port": port, "workers": workers, "results": results, "mode": marker_mode(),
            "log": TaskLog(data_dir / "tasks"), "cpu": CpuTracker(),
            "sessions": lambda: {"worker": [w.proc.pid for w in workers], "web": [web.proc.pid]},
        }  # fmt: skip
        wait_ready(app, web, workers, port)
        ctx["vacuum"] = Autovacuum(args.database_url, args.analyze_every)
        warm(app, ctx, args)
        print(f"load average before: {os.getloadavg()}; stages read from: {ctx['mode'][0]}", flush=True)
        if args.step_search:
            step_search(app, ctx, args)
        else:
            results.append(run_load("rules", args.rate, args.duration, args, ctx))
            if judge:
                eo.drain(app, redis_client, workers, 0)
                results.append(run_load("judge", args.rate, args.duration, args, ctx, judge.base_url))
    finally:
        for proc in procs:
            proc.stop()
        redis_client.flushdb()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        eo.drop_database(args.database_url)
        if args.keep_logs:
            print(f"logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    print()
    print(
        f"Peekr pipeline bench, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, code {args.app_root}; web "
        f"{args.web_workers} x {args.web_threads} threads, {args.workers} worker(s) x {args.worker_concurrency} "
        f"processes{' ' + str(args.worker_args) if args.worker_args else ''}"
    )
    for res in results:
        print("\n".join(report(res, args)))
    if args.step_search:
        steps = ", ".join(f"{r.rate:,.0f} {'flat' if r.flat else 'growing'}" for r in results)
        best = max((r.rate for r in results if r.flat), default=0)
        print(f"step search: {steps}; highest rate with a flat backlog: {best:,.0f} spans/s")


def warm(app, ctx: dict, args) -> None:
    """A few traces through every process, then a clean broker: imports and connections before the clock."""
    project, key = project_setup("warm-up", "", 0)
    ingest.warm_up(ctx["port"], key, 2 * args.web_workers * args.web_threads)
    time.sleep(float(os.environ.get("PEEKR_TRACE_QUIET_SECONDS", 5)) + 10)
    eo.drain(app, ctx["redis"], ctx["workers"], 20)


def step_search(app, ctx: dict, args) -> None:
    """Up by --step-factor from --step-search while the backlog stays flat; if the first step already grows,
    down instead, until a step is flat (or below --step-min)."""
    rate, down = args.step_search, False
    while args.step_min <= rate <= args.step_max:
        step_args = argparse.Namespace(
            **{
                **vars(args),
                "drain_timeout": args.step_drain,
                "sample_every": min(args.sample_every, args.step_seconds / 12),
            }
        )
        res = run_load(f"step {rate:,.0f}", rate, args.step_seconds, step_args, ctx)
        drained = eo.drain(app, ctx["redis"], ctx["workers"], 0)
        print(f"  purged {drained.purged} messages, revoked {drained.revoked} held tasks", flush=True)
        ctx["results"].append(res)
        held = bool(res.flat) and res.load.accepted_spans >= 0.9 * rate * args.step_seconds
        if len(ctx["results"]) == 1 and not held:
            down = True
        if held == down:  # going up: the first growing step ends it; going down: the first flat one
            break
        rate = rate / args.step_factor if down else rate * args.step_factor


if __name__ == "__main__":
    main()
