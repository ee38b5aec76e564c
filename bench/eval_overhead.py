"""What evaluation costs: ingest latency with judge rules on and off, the built-in rules per span, judge throughput.

    .venv/bin/python bench/eval_overhead.py            # 5 rounds of off/on/judging runs of 200 requests; 200 scores
    .venv/bin/python bench/eval_overhead.py --quick    # a smoke run: 1 round of runs of 30 requests, 40 scores

1. Ingest overhead. gunicorn peekr_web.wsgi on PostgreSQL (`peekr_bench_evals`, recreated and migrated) with
   Redis db 6 as the Celery broker, and one `celery -A peekr_web worker --concurrency 2` (2 pool processes)
   running throughout, so traces really settle and get evaluated in the background while requests arrive.
   The same workload (requests of 64 spans, traces of six spans as in bench/ingest.py, fresh ids and fresh
   texts per run, so the judge cache never answers) is sent in rounds of three runs, in an order that rotates
   from round to round: OFF (a project with the built-in rules only), ON (a project that also has a
   faithfulness + rubric rule on llm spans at sample rate 1.0, judged by a fake OpenAI-compatible judge in
   its own process) and "judging" (ON, with a backlog of run_judge tasks of earlier traces queued just before
   the run: evaluation is FIFO, so in a plain ON run the run's own judge tasks queue behind its rule
   evaluations and barely start before the run ends; this one has the workers judging all along). Each run
   starts with idle workers and an empty queue: after a run the backlog gets --drain-timeout seconds, then
   the queue is purged and the tasks the workers still hold are revoked. Besides the client's p50/p99 per
   request, gunicorn (through a config file of hooks written to a temporary directory; no app code changes)
   records each request's wall time, its thread's CPU time, its wait for a CPU (/proc/thread-self/schedstat),
   the time in psycopg calls and in the Redis enqueue, and the number of SQL statements; the CPU seconds each
   component burnt during the run are read from /proc, and the tasks the worker finished from its log:
   /proc: that is where any extra request time goes.
2. The built-in rules per llm span: evals.evaluators.run_rules with every BUILTIN_RULES on bench/rules_cost.py's
   RAG answer span and on the workload's own llm spans (read back from the database, as the worker builds
   them), thread CPU and wall time; then trace_evaluate() per trace, database included (built-in rules only).
3. Judge throughput: a rubric rule judged by a fake judge that answers after 200 ms, pending scores created
   in-process (trace_evaluate), one evals.run_judge task each, drained by 2 pool processes: two
   `worker --concurrency 1` processes, then one `worker --concurrency 2`; wall time until every score is done.

It cleans up after itself whatever happens (every process it started, Redis db 6, the temporary directory,
the database unless --keep-database) and prints figures, never asserts on them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _env  # noqa: E402  (bench/_env.py: database, broker, data directory, Django)
import ingest  # noqa: E402  (bench/ingest.py: workload and gunicorn helpers)
import rules_cost  # noqa: E402  (bench/rules_cost.py: the RAG answer span and its config)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_evals"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/6"
TARGET_RATIO = 1.05
TARGET_RULES_US = 1000.0
JUDGE_MODEL = "judge-model"
RUBRIC = {
    "rubric": {"criteria": "Is the answer polite and on topic?", "scale": {"min": 1, "max": 5}, "pass_threshold": 4}
}
RUBRIC_REPLY = '{"score": 5, "reason": "ok"}'

# ---------------------------------------------------------------------------------------------------------------
# Processes: gunicorn with timing hooks, Celery workers, the fake judge

GUNICORN_CONF = '''\
"""Written by bench/eval_overhead.py: one JSON line per POST /v1/traces with where its time went."""
import json
import os
import threading
import time

_local = threading.local()
_lock = threading.Lock()
_out = None


def _runqueue_ns():
    """Nanoseconds this thread has spent runnable but waiting for a CPU."""
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
            acc[key + "_n"] = acc.get(key + "_n", 0) + 1

    setattr(owner, name, timed)


def post_worker_init(worker):
    global _out
    import psycopg

    from traces import services

    path = os.path.join(os.environ["PEEKR_BENCH_REQUEST_LOG"], f"requests-{os.getpid()}.jsonl")
    _out = open(path, "a", buffering=1)
    _timed(psycopg.Cursor, "execute", "sql")
    _timed(psycopg.Cursor, "executemany", "sql")
    _timed(psycopg.Copy, "finish", "sql")
    _timed(psycopg.Connection, "commit", "commit")
    _timed(services, "_enqueue_settle", "enqueue")
    _timed(services, "spans_ingest", "ingest")


def pre_request(worker, req):
    _local.acc = {}
    _local.start = (time.perf_counter(), time.thread_time(), _runqueue_ns())


def post_request(worker, req, environ, resp):
    acc = getattr(_local, "acc", None)
    _local.acc = None
    if acc is None or _out is None or req.path != "/v1/traces":
        return
    t0, c0, q0 = _local.start
    record = {"wall": time.perf_counter() - t0, "cpu": time.thread_time() - c0, "runq": (_runqueue_ns() - q0) / 1e9}
    record.update(acc)
    with _lock:
        _out.write(json.dumps(record) + "\\n")
'''


def stop_session(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group we started (start_new_session), SIGKILL it if it lingers; then any member
    of that session still alive (a pool child whose parent died first) gets SIGKILL too."""
    sid = proc.pid
    if proc.poll() is None:
        try:
            os.killpg(sid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(sid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    for pid, info in proc_table().items():
        if info["session"] == sid and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Server(ingest.Server):
    """bench/ingest.py's gunicorn, started with a config file of timing hooks."""

    def __init__(self, env: dict[str, str], workers: int, threads: int, data_dir: Path):
        self.port = ingest.free_port()
        self.log = data_dir / "gunicorn.log"
        self.workers, self.threads = workers, threads
        self.request_dir = data_dir / "requests"
        self.request_dir.mkdir()
        conf = data_dir / "gunicorn_bench_conf.py"
        conf.write_text(GUNICORN_CONF)
        cmd = [
            str(Path(sys.executable).parent / "gunicorn"),
            "peekr_web.wsgi",
            f"--config={conf}",
            f"--workers={workers}",
            f"--threads={threads}",
            f"--bind=127.0.0.1:{self.port}",
            "--timeout=120",
            "--keep-alive=30",
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **env, "PEEKR_BENCH_REQUEST_LOG": str(self.request_dir)},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        stop_session(self.proc)

    def offsets(self) -> dict[Path, int]:
        return {p: p.stat().st_size for p in self.request_dir.glob("*.jsonl")}

    def records_since(self, offsets: dict[Path, int]) -> list[dict]:
        out = []
        for path in self.request_dir.glob("*.jsonl"):
            with path.open() as f:
                f.seek(offsets.get(path, 0))
                out += [json.loads(line) for line in f if line.strip()]
        return out


class Worker:
    """`celery -A peekr_web worker --concurrency N` in its own session, with a hostname of its own."""

    def __init__(self, env: dict[str, str], name: str, concurrency: int, data_dir: Path):
        self.hostname = f"bench-{name}-{os.getpid()}@{platform.node() or 'localhost'}"
        self.concurrency = concurrency
        self.log = data_dir / f"worker-{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "peekr_web", "worker", "--concurrency", str(concurrency),
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", self.hostname],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, app, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        raise RuntimeError(f"celery worker {self.hostname} did not answer:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        stop_session(self.proc)


TASK_DONE = re.compile(r"Task ([\w.]+)\[[^\]]+\] (succeeded|raised|retry)\S* (?:in ([\d.]+)s)?")


def task_offsets(workers: list[Worker]) -> dict[Path, int]:
    return {w.log: w.log.stat().st_size for w in workers if w.log.exists()}


def tasks_since(offsets: dict[Path, int]) -> dict[str, list[float]]:
    """Tasks the workers finished since the offsets (from their INFO log lines): name -> [count, seconds]."""
    out: dict[str, list[float]] = {}
    for path, offset in offsets.items():
        with path.open(errors="replace") as f:
            f.seek(offset)
            for line in f:
                m = TASK_DONE.search(line)
                if m:
                    entry = out.setdefault(m.group(1), [0, 0.0])
                    entry[0] += 1
                    entry[1] += float(m.group(3) or 0.0)
    return out


def describe_tasks(tasks: dict[str, list[float]]) -> str:
    return ", ".join(
        f"{name} {int(n)} ({sec:.1f} s)" for name, (n, sec) in sorted(tasks.items(), key=lambda kv: -kv[1][1])
    )


class Judge:
    """The fake judge (tests/fake_openai.py) in a process of its own: in the bench's process its threads would
    hold the GIL while the sender thread waits for a reply, and inflate the latencies with judges on."""

    def __init__(self, mode: str, delay: float, data_dir: Path):
        self.log = data_dir / f"judge-{mode}.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-judge", mode, "--judge-delay", str(delay)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
            text=True,
            start_new_session=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"the fake judge did not start:\n{self.log.read_text()[-3000:]}")
        self.base_url = line.strip()

    def stop(self) -> None:
        stop_session(self.proc, timeout=10)


def serve_judge(mode: str, delay: float) -> None:
    """--serve-judge: run a fake judge until SIGTERM. "ragas" answers faithfulness's two prompts and the rubric
    (tests/judge_server.py), "rubric" answers every chat call with RUBRIC_REPLY."""
    from tests.fake_openai import FakeOpenAI
    from tests.judge_server import judge_server

    server = judge_server(delay=delay) if mode == "ragas" else FakeOpenAI(answer=RUBRIC_REPLY, delay=delay)
    with server:
        print(server.base_url, flush=True)
        while True:
            time.sleep(3600)


# ---------------------------------------------------------------------------------------------------------------
# CPU accounting from /proc


def proc_table() -> dict[int, dict]:
    """pid -> {comm, session, cpu seconds, cmdline} of every process we can read."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = {
            "comm": comm,
            "session": int(fields[3]),
            "cpu": (int(fields[11]) + int(fields[12])) / tick,
        }
    return table


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds per component between two samples, process by process (a process that started in between
    counts whole; one that exited is lost, but the machine total still has it): the sessions we started,
    PostgreSQL's backends of our database (by the database name in their process title), the rest of
    PostgreSQL, Redis, this process (the sender), everything else, and the whole machine (/proc/stat)."""

    def __init__(self, database: str):
        self.database = database
        self.sessions: dict[str, list[int]] = {}

    def sample(self) -> tuple[dict[int, dict], tuple[int, int]]:
        return proc_table(), ingest.cpu_times()

    def category(self, pid: int, info: dict, by_session: dict[int, str]) -> str:
        if info["session"] in by_session:
            return by_session[info["session"]]
        if pid == os.getpid():
            return "client"
        if info["comm"] == "postgres":
            return "postgres" if f" {self.database} " in cmdline(pid) else "pg other"
        if info["comm"].startswith("redis-server"):
            return "redis"
        return "others"

    def delta(self, before, after) -> dict:
        (t0, m0), (t1, m1) = before, after
        by_session = {sid: name for name, sids in self.sessions.items() for sid in sids}
        out: dict = {name: 0.0 for name in (*self.sessions, "client", "postgres", "pg other", "redis")}
        others: dict[str, float] = {}
        for pid, info in t1.items():
            old = t0.get(pid)
            spent = info["cpu"] - (old["cpu"] if old is not None and old["comm"] == info["comm"] else 0.0)
            if spent <= 0:
                continue
            category = self.category(pid, info, by_session)
            if category == "others":
                others[info["comm"]] = others.get(info["comm"], 0.0) + spent
            else:
                out[category] += spent
        tick = os.sysconf("SC_CLK_TCK")
        out["machine"] = (m1[0] - m0[0]) / tick
        out["capacity"] = (m1[1] - m0[1]) / tick
        ours = sum(v for k, v in out.items() if k not in ("machine", "capacity"))
        out["others"] = max(0.0, out["machine"] - ours)
        out["others_top"] = sorted(others.items(), key=lambda kv: -kv[1])[:3]
        return out


# ---------------------------------------------------------------------------------------------------------------
# Broker and worker state


def queue_length(redis_client) -> int:
    """Messages waiting in the default queue (kombu keeps one Redis list per priority step: celery*)."""
    total = 0
    for key in redis_client.scan_iter(match=b"celery*"):
        if redis_client.type(key) == b"list":
            total += redis_client.llen(key)
    return total


def backlog(app, redis_client, workers: list[Worker]) -> tuple[int, dict[str, list[str]]]:
    """(messages in the queue, task ids the workers run / hold prefetched / hold for later (ETA)). A worker
    that does not answer the inspection counts as busy."""
    names = [w.hostname for w in workers]
    inspect = app.control.inspect(destination=names, timeout=1.0)
    held: dict[str, list[str]] = {}
    for name, method in (("active", inspect.active), ("reserved", inspect.reserved), ("scheduled", inspect.scheduled)):
        replies = method() or {}
        ids = [t.get("request", t).get("id", "?") for tasks in replies.values() for t in tasks]
        held[name] = ids + ["no reply"] * (len(names) - len(replies))
        if name == "scheduled":  # those due in more than 5 s (annotations.route_trace waits 60 s)
            soon = datetime.now(UTC).timestamp() + 5
            held["later"] = [
                t["request"]["id"]
                for tasks in replies.values()
                for t in tasks
                if t.get("eta") and datetime.fromisoformat(t["eta"]).timestamp() > soon
            ]
    return queue_length(redis_client), held


@dataclass
class Drained:
    seconds: float = 0.0
    purged: int = 0  # messages removed from the queue
    revoked: int = 0  # tasks the workers held (prefetched or waiting for their ETA), revoked


def drain(app, redis_client, workers: list[Worker], timeout: float, verbose: bool = False) -> Drained:
    """Let the workers work through the backlog for up to `timeout` s; then purge the queue (repeatedly: a task
    in flight may enqueue more) and revoke what the workers hold, until nothing is left that could run during
    the next measurement. Tasks waiting for an ETA (the 60 s annotations.route_trace, trace_settle's retries)
    are revoked as soon as nothing else is left: a revoked task is discarded when its time comes."""
    began = time.monotonic()
    out = Drained()
    revoked: set[str] = set()
    while time.monotonic() - began < timeout + 120:
        late = time.monotonic() - began >= timeout
        if late:
            out.purged += app.control.purge() or 0
        queued, held = backlog(app, redis_client, workers)
        live = {k: [i for i in v if i not in revoked] for k, v in held.items()}
        if verbose:
            counts = {k: len(v) for k, v in live.items()}
            print(
                f"    drain {time.monotonic() - began:5.1f} s: queued {queued}, {counts}", file=sys.stderr, flush=True
            )
        if "no reply" not in sum(live.values(), []):
            # out of time: everything held; otherwise only what is due in more than 5 s
            new = live["reserved"] + live["scheduled"] if late else live["later"]
            if new:
                app.control.revoke(new)
                revoked.update(new)
                live = {k: [i for i in v if i not in revoked] for k, v in live.items()}
        if not (queued or live["active"] or live["reserved"] or live["scheduled"]):
            break
        time.sleep(1.0 if not late else 0.5)
    out.seconds = time.monotonic() - began
    out.revoked = len(revoked)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Figures


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 200 values is the 198th)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


MODES = {
    "off": "judge rules OFF: the built-in rules only",
    "on": "judge rules ON: + faithfulness and rubric on every llm span at sample rate 1.0",
    "judging": "ON, and the workers busy judging a backlog of earlier traces when the run starts",
}


@dataclass
class IngestRun:
    label: str
    mode: str
    round: int
    requests: int
    spans: int
    latencies_ms: list[float]
    errors: list[str]
    window_s: float
    idle_load: float
    cpu: dict[str, float]
    server: list[dict]
    traces: int = 0
    completed: int = 0
    evaluated: int = 0
    judged: int = 0
    judge_pending: int = 0
    queued: int = 0
    drained: Drained = field(default_factory=Drained)
    backlog: int = 0  # run_judge tasks enqueued just before the run (mode "judging")
    extra: dict = field(default_factory=dict)

    @property
    def judges(self) -> bool:
        return self.mode != "off"

    def server_ms(self, key: str, q: float = 0.5) -> float:
        return pct([r.get(key, 0.0) * 1000 for r in self.server], q)

    def server_count(self, key: str) -> float:
        return statistics.median([r.get(key, 0) for r in self.server]) if self.server else float("nan")


# ---------------------------------------------------------------------------------------------------------------
# 1. Ingest overhead


def judge_rule(project, base_url: str, evaluators: list[str], name: str):
    from evals.connections import judge_connection_create
    from evals.services import eval_rule_create

    return eval_rule_create(
        project=project,
        name=name,
        evaluators=evaluators,
        filter={"kind": "llm"},
        sample_rate=1.0,
        judge_connection_id=judge_connection_create(
            project=project, user=None, name=f"bench judge {name}", base_url=base_url, api_key=""
        ).pk,
        judge_model=JUDGE_MODEL,
        config=RUBRIC,
    )


def background_progress(project) -> dict[str, int]:
    from evals.models import Score
    from traces.models import Trace

    traces = Trace.objects.filter(project=project)
    scores = Score.objects.filter(project_id=project.pk)
    return {
        "traces": traces.count(),
        "completed": traces.filter(completed_at__isnull=False).count(),
        "evaluated": scores.filter(source=Score.Source.RULE).values("trace_id").distinct().count(),
        "judged": scores.filter(source=Score.Source.JUDGE).exclude(status=Score.Status.PENDING).count(),
        "judge_pending": scores.filter(source=Score.Source.JUDGE, status=Score.Status.PENDING).count(),
    }


def enqueue_judge_backlog(project, n: int) -> int:
    """One run_judge task for each of the n oldest pending judge scores of other projects (the warm-up's and
    earlier runs', whose tasks were purged): the workers judge them while the run's own traces queue behind."""
    from evals.models import Score
    from evals.tasks import run_judge

    pending = Score.objects.filter(source=Score.Source.JUDGE, status=Score.Status.PENDING).exclude(
        project_id=project.pk
    )
    pks = list(pending.order_by("pk").values_list("pk", flat=True)[:n])
    for pk in pks:
        run_judge.delay(pk)
    return len(pks)


def ingest_run(label: str, mode: str, round_no: int, seed: int, args, ctx) -> IngestRun:
    from traces.services import project_create

    project, key = project_create(name=f"bench-evals-{mode}-{round_no}-{time.time_ns()}")
    if mode != "off":
        judge_rule(project, ctx["judge"].base_url, ["faithfulness", "rubric"], "faithfulness + rubric")
    workload = ingest.Workload.build(args.requests * args.spans_per_request, seed=seed)
    (bodies,), _ = workload.stamp(time.time_ns())
    idle = ingest.background_cpu(2.0)
    backlog = 0
    if mode == "judging":
        backlog = enqueue_judge_backlog(project, args.judge_backlog)
        time.sleep(1.0)  # both pool processes are judging when the first request goes out
    server: Server = ctx["server"]
    offsets = server.offsets()
    meter: CpuMeter = ctx["meter"]
    logs = task_offsets(ctx["workers"])
    before = meter.sample()
    began = time.perf_counter()
    latencies, errors = ingest.send_all(server.port, key, [bodies])
    window = time.perf_counter() - began
    cpu = meter.delta(before, meter.sample())
    tasks = tasks_since(logs)
    progress = background_progress(project)
    queued = queue_length(ctx["redis"])
    time.sleep(0.5)  # the last request's log line is written after its response
    run = IngestRun(
        label=label,
        mode=mode,
        round=round_no,
        backlog=backlog,
        requests=len(bodies),
        spans=workload.n_spans,
        latencies_ms=latencies,
        errors=errors,
        window_s=window,
        idle_load=idle,
        cpu=cpu,
        server=server.records_since(offsets),
        queued=queued,
        **progress,
    )
    run.drained = drain(ctx["app"], ctx["redis"], ctx["workers"], args.drain_timeout, args.verbose)
    done = background_progress(project)
    run.extra = {
        "tasks": tasks,
        "judged_after_drain": done["judged"],
        "evaluated_after_drain": done["evaluated"],
        "judge_scores": done["judged"] + done["judge_pending"],
    }
    print(
        f"  {label}: p50 {pct(latencies, 0.5):.0f} ms, p99 {pct(latencies, 0.99):.0f} ms over {len(latencies)} "
        f"requests in {window:.1f} s; background during the run: {run.evaluated}/{run.traces} traces evaluated, "
        f"{run.judged} judge scores done; drained in {run.drained.seconds:.0f} s, "
        f"{run.drained.purged} messages purged, {run.drained.revoked} held tasks revoked",
        flush=True,
    )
    return run


def warm_up_judges(args, ctx) -> None:
    """A few traces into a judged project, until both pool processes have run each judge once or twice
    (imports, ragas's prompt setup, connections), so the first ON run does not pay for it."""
    from evals.models import Score
    from traces.services import project_create

    project, key = project_create(name=f"bench-evals-warm-up-{time.time_ns()}")
    judge_rule(project, ctx["judge"].base_url, ["faithfulness", "rubric"], "warm-up")
    workload = ingest.Workload.build(6 * 40, seed=7)
    (bodies,), _ = workload.stamp(time.time_ns())
    ingest.send_all(ctx["server"].port, key, [bodies])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = Score.objects.filter(project_id=project.pk, source=Score.Source.JUDGE, status=Score.Status.DONE)
        if done.filter(evaluator="faithfulness").count() >= 6 and done.filter(evaluator="rubric").count() >= 6:
            break
        time.sleep(0.5)
    drain(ctx["app"], ctx["redis"], ctx["workers"], 10, args.verbose)


def part_ingest(args, env, data_dir: Path, redis_client, app, meter: CpuMeter) -> tuple[list[IngestRun], dict]:
    from traces.services import project_create

    ingest.SPANS_PER_REQUEST = args.spans_per_request  # Workload.stamp cuts the bodies at this size
    ctx = {"redis": redis_client, "app": app, "meter": meter}
    server = Server(env, args.gunicorn_workers, args.threads, data_dir)
    workers = [Worker(env, "ingest", 2, data_dir)]
    judge = Judge("ragas", args.ingest_judge_delay, data_dir)
    ctx.update(server=server, workers=workers, judge=judge)
    meter.sessions = {"gunicorn": [server.proc.pid], "celery": [w.proc.pid for w in workers], "judge": [judge.proc.pid]}
    runs: list[IngestRun] = []
    try:
        server.wait_ready()
        for w in workers:
            w.wait_ready(app)
        _, warm_key = project_create(name="bench-evals-warm-up")
        ingest.warm_up(server.port, warm_key, 4 * args.gunicorn_workers * args.threads)
        print("warming the workers up on the judges ...", flush=True)
        warm_up_judges(args, ctx)
        modes = ["off", "on", "judging"] if args.judge_backlog else ["off", "on"]
        for k in range(args.rounds):  # the order rotates from round to round: no mode always goes first
            for mode in modes[k % len(modes) :] + modes[: k % len(modes)]:
                seed = 100 + len(runs)  # fresh texts per run: the judge cache never answers
                runs.append(ingest_run(f"{mode} #{k + 1}", mode, k + 1, seed=seed, args=args, ctx=ctx))
    except BaseException:
        for proc_log in (server.log, *(w.log for w in workers), judge.log):
            if proc_log.exists():
                print(f"--- {proc_log.name} (tail) ---\n{proc_log.read_text(errors='replace')[-2000:]}")
        raise
    finally:
        for w in workers:
            w.stop()
        server.stop()
        judge.stop()
    return runs, {"judge_tasks_per_trace": judge_tasks_per_trace(runs)}


def judge_tasks_per_trace(runs: list[IngestRun]) -> float:
    """Judge scores (tasks) created per evaluated trace in the ON runs."""
    on = [r for r in runs if r.judges]
    evaluated = sum(r.extra.get("evaluated_after_drain", 0) for r in on)
    return sum(r.extra.get("judge_scores", 0) for r in on) / evaluated if evaluated else 0.0


# ---------------------------------------------------------------------------------------------------------------
# 2. Built-in rules' cost per span, and trace_evaluate per trace


def ingest_in_process(project, n_traces: int, seed: int) -> list[int]:
    """Store n_traces six-span traces through spans_ingest (no HTTP); returns their pks in order."""
    from traces import otlp
    from traces.models import Trace
    from traces.services import spans_ingest

    workload = ingest.Workload.build(n_traces * ingest.SPANS_PER_TRACE, seed=seed)
    (bodies,), trace_ids = workload.stamp(time.time_ns())
    for body in bodies:
        raws, _ = otlp.decode_traces_request(body, "application/x-protobuf")
        spans_ingest(project=project, raws=raws)
    pks = dict(Trace.objects.filter(project=project, trace_id__in=trace_ids).values_list("trace_id", "pk"))
    return [pks[t] for t in trace_ids if t in pks]


def time_rules(targets: list, cfg, runs: int) -> tuple[list[float], list[float]]:
    from evals.evaluators import BUILTIN_RULES, run_rules

    for i in range(min(500, runs)):  # warm-up: regex and validator caches
        run_rules(targets[i % len(targets)], cfg, BUILTIN_RULES)
    wall, cpu = [], []
    for i in range(runs):
        target = targets[i % len(targets)]
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        run_rules(target, cfg, BUILTIN_RULES)
        t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
        wall.append((t1 - t0) / 1000)
        cpu.append((c1 - c0) / 1000)
    return wall, cpu


def part_rules(args) -> dict:
    from dataclasses import replace

    from django.db import connection

    from evals import services as eval_services
    from evals.models import Score
    from traces.models import Span
    from traces.services import project_create

    out: dict = {}
    runs = args.rule_runs
    # (a) bench/rules_cost.py's RAG answer span, fresh answer strings (no per-text cache carries over)
    base = rules_cost.build_span()
    pool = [replace(base, output_text="".join([rules_cost.ANSWER[:-1], rules_cost.ANSWER[-1]])) for _ in range(64)]
    out["rag_span"] = time_rules(pool, rules_cost.config(), runs)

    # (b) the workload's llm spans, read back from the database and built as trace_evaluate builds them
    project, _ = project_create(name=f"bench-evals-rules-{time.time_ns()}")
    pks = ingest_in_process(project, args.evaluate_traces + 10, seed=31)
    builtin = next(r for r in eval_services.rules_for_project(project=project) if r.is_builtin)
    cfg = eval_services.rule_config(builtin)
    targets = []
    for pk in pks[:200]:
        spans = [s for s in Span.objects.filter(trace_id=pk) if not s.is_internal]
        span_targets, _ = eval_services.build_targets(spans)
        targets += [t for t in span_targets if t.kind == "llm"]
    out["workload_spans"] = time_rules(targets, cfg, runs)
    out["workload_targets"] = len(targets)

    # (c) trace_evaluate per trace, database included, built-in rules only (the first 10 warm up)
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    wall, cpu, queries = [], [], []
    for i, pk in enumerate(pks):
        statements[0] = 0
        with connection.execute_wrapper(count):
            c0, t0 = time.thread_time(), time.perf_counter()
            eval_services.trace_evaluate(trace_pk=pk)
            t1, c1 = time.perf_counter(), time.thread_time()
        if i >= 10:
            wall.append((t1 - t0) * 1000)
            cpu.append((c1 - c0) * 1000)
            queries.append(statements[0])
    out["evaluate"] = (wall, cpu, queries)
    measured = pks[10:]
    n_scores = Score.objects.filter(trace_id__in=measured).count()
    out["scores_per_trace"] = n_scores / max(1, len(measured))
    out["spans_per_trace"] = Span.objects.filter(trace_id__in=measured).count() / max(1, len(measured))
    return out


# ---------------------------------------------------------------------------------------------------------------
# 3. Judge throughput


@dataclass
class ThroughputRun:
    label: str
    processes: int
    scores: int
    wall_s: float
    done: int
    errors: int
    cached: int
    judge_calls: int
    timed_out: bool
    cpu: dict[str, float]
    tasks: dict[str, list[float]]

    @property
    def per_s(self) -> float:
        return self.done / self.wall_s if self.wall_s else 0.0


def pending_judge_scores(project, n: int, seed: int) -> list[int]:
    """Traces stored and evaluated in-process until at least n rubric scores are pending; their ids."""
    from evals.services import trace_evaluate

    pending: list[int] = []
    batch = 0
    while len(pending) < n and batch < 50:
        for pk in ingest_in_process(project, max(4, (n - len(pending)) // 2 + 2), seed=seed + batch):
            pending += trace_evaluate(trace_pk=pk)
        batch += 1
    return pending


def throughput_run(label: str, setup: list[int], n: int, seed: int, args, env, data_dir, app, redis_client, meter):
    from evals.models import JudgeCall, Score
    from evals.tasks import run_judge
    from traces.services import project_create

    judge = Judge("rubric", args.judge_delay, data_dir)
    workers: list[Worker] = []
    try:
        project, _ = project_create(name=f"bench-evals-judges-{len(setup)}x{setup[0]}-{time.time_ns()}")
        judge_rule(project, judge.base_url, ["rubric"], "rubric")
        pending = pending_judge_scores(project, n + 4, seed)
        warm, measured = pending[:4], pending[4 : 4 + n]
        app.control.purge()  # the trace_settle messages of the in-process ingest: not part of this measurement
        workers = [Worker(env, f"judge{len(setup)}-{chr(97 + i)}", c, data_dir) for i, c in enumerate(setup)]
        for w in workers:
            w.wait_ready(app)
        meter.sessions = {"celery": [w.proc.pid for w in workers], "judge": [judge.proc.pid]}
        for pk in warm:  # each pool process imports the judge client and opens its connections once
            run_judge.delay(pk)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and Score.objects.filter(pk__in=warm, status="pending").exists():
            time.sleep(0.1)
        calls_before = JudgeCall.objects.filter(project_id=project.pk).count()
        logs = task_offsets(workers)
        before = meter.sample()
        began = time.perf_counter()
        for pk in measured:
            run_judge.delay(pk)
        limit = max(60.0, len(measured) * args.judge_delay * 3)
        timed_out = True
        while time.perf_counter() - began < limit:
            if not Score.objects.filter(pk__in=measured, status=Score.Status.PENDING).exists():
                timed_out = False
                break
            time.sleep(0.05)
        wall = time.perf_counter() - began
        cpu = meter.delta(before, meter.sample())
        time.sleep(0.5)  # a task logs its success after its last commit
        tasks = tasks_since(logs)
        scores = Score.objects.filter(pk__in=measured)
        run = ThroughputRun(
            label=label,
            processes=sum(setup),
            scores=len(measured),
            wall_s=wall,
            done=scores.filter(status=Score.Status.DONE).count(),
            errors=scores.filter(status=Score.Status.ERROR).count(),
            cached=scores.filter(details__cached=True).count(),
            judge_calls=JudgeCall.objects.filter(project_id=project.pk).count() - calls_before,
            timed_out=timed_out,
            cpu=cpu,
            tasks=tasks,
        )
        drain(app, redis_client, workers, 30, args.verbose)
    except BaseException:
        for w in workers:
            print(f"--- {w.log.name} (tail) ---\n{w.log.read_text(errors='replace')[-2000:]}")
        raise
    finally:
        for w in workers:
            w.stop()
        judge.stop()
    print(
        f"  {label}: {run.done}/{run.scores} scores in {run.wall_s:.1f} s = {run.per_s:.2f}/s "
        f"({run.errors} errors, {run.cached} from the cache)",
        flush=True,
    )
    return run


def judge_task_profile(args, data_dir: Path, n: int) -> dict:
    """Where one judge task's time goes: judge_score_run in this process (no broker, no worker), on pending
    rubric scores, with timers wrapped around its stages (ingest.StageTimer)."""
    from django.db import connection

    from evals import judge_client, judges
    from evals import judging as eval_judging
    from traces import services as trace_services
    from traces.services import project_create

    judge = Judge("rubric", args.judge_delay, data_dir)
    try:
        project, _ = project_create(name=f"bench-evals-judge-profile-{time.time_ns()}")
        judge_rule(project, judge.base_url, ["rubric"], "rubric")
        pending = pending_judge_scores(project, n + 2, seed=900)
        for pk in pending[:2]:  # warm-up: openai's import, the first connections
            eval_judging.judge_score_run(score_pk=pk)
        measured = pending[2 : n + 2]
        statements = [0]

        def count(execute, sql, params, many, context):
            statements[0] += 1
            return execute(sql, params, many, context)

        with ingest.StageTimer() as timer, connection.execute_wrapper(count):
            timer.wrap(eval_judging, "judge_score_run", "total")
            timer.wrap(judges, "judge_sync", "judge call")
            timer.wrap(judge_client.JudgeClient, "__init__", "client")
            timer.wrap(eval_judging, "build_targets", "build_targets")
            timer.wrap(eval_judging, "_ledger_record", "ledger")
            timer.wrap(eval_judging, "_trace_judge_calls", "judge trace")
            timer.wrap(trace_services, "spans_ingest", "spans_ingest")
            timer.wrap(eval_judging, "_score_finish", "finish")
            timer.wrap(eval_judging, "span_write_back", "write back")
            c0 = time.thread_time()
            for pk in measured:
                eval_judging.judge_score_run(score_pk=pk)
            cpu = time.thread_time() - c0
    finally:
        judge.stop()
    per = {k: v * 1000 / len(measured) for k, v in timer.totals.items()}
    per["cpu"] = cpu * 1000 / len(measured)
    per["sql"] = statements[0] / len(measured)
    per["n"] = len(measured)
    return per


def part_judges(args, env, data_dir, app, redis_client, meter) -> tuple[list[ThroughputRun], dict]:
    setups = [("2 x worker --concurrency 1", [1, 1]), ("1 x worker --concurrency 2", [2])]
    runs = [
        throughput_run(label, setup, args.scores, 500 + 100 * i, args, env, data_dir, app, redis_client, meter)
        for i, (label, setup) in enumerate(setups)
    ]
    profile = judge_task_profile(args, data_dir, 20 if args.quick else 50)
    app.control.purge()  # the trace_settle messages of the profile's own writes
    return runs, profile


# ---------------------------------------------------------------------------------------------------------------
# Report


def print_ingest(runs: list[IngestRun], args, extra: dict) -> None:
    r0 = runs[0]
    print("1. Ingest latency with evaluation running in the background")
    print(
        f"   per run: {r0.requests} POST /v1/traces of {args.spans_per_request} spans ({r0.spans:,} spans, "
        f"{r0.traces:,} traces of 6 spans, fresh ids and texts), one sender, back to back; gunicorn "
        f"{args.gunicorn_workers} workers x {args.threads} threads; 1 celery worker --concurrency 2; trace quiet "
        f"period {args.quiet_seconds:g} s; fake judge (own process) answering after "
        f"{args.ingest_judge_delay * 1000:.0f} ms"
    )
    modes = [m for m in MODES if any(r.mode == m for r in runs)]
    for mode in modes:
        text = MODES[mode] + (f" ({args.judge_backlog} run_judge tasks)" if mode == "judging" else "")
        print(f"   {mode:<8} {text}")
    print()
    w = 11
    head = (
        f"{'run':<{w}}| {'p50 ms':>6} | {'p99 ms':>6} | {'max ms':>6} || {'srv p50':>7} | {'CPU':>5} | {'runq':>5} | "
        f"{'in SQL':>6} | {'commit':>6} | {'Redis':>5} | {'SQL/req':>7} | {'errors':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        print(
            f"{r.label:<{w}}| {pct(r.latencies_ms, 0.5):>6.0f} | {pct(r.latencies_ms, 0.99):>6.0f} | "
            f"{max(r.latencies_ms):>6.0f} || {r.server_ms('wall'):>7.1f} | {r.server_ms('cpu'):>5.1f} | "
            f"{r.server_ms('runq'):>5.1f} | {r.server_ms('sql'):>6.1f} | {r.server_ms('commit'):>6.1f} | "
            f"{r.server_ms('enqueue'):>5.1f} | {r.server_count('sql_n'):>7.0f} | {len(r.errors):>6}"
        )
    print()
    head = (
        f"{'run':<{w}}| {'send s':>6} | {'idle ld':>7} || {'gunicorn':>8} | {'celery':>6} | {'judge':>5} | "
        f"{'postgres':>8} | {'pg other':>8} | {'client':>6} | {'others':>6} | {'busy':>4} || {'evaluated':>15} | "
        f"{'judged':>9} | {'drain s':>7} | {'purged':>6} | {'revoked':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        c = r.cpu
        evaluated = f"{r.evaluated}/{r.extra['evaluated_after_drain']}/{r.traces}"
        judged = f"{r.judged}/{r.extra['judged_after_drain']}" if r.judges else "-"
        print(
            f"{r.label:<{w}}| {r.window_s:>6.1f} | {r.idle_load:>6.0f}% || {c['gunicorn']:>8.1f} | "
            f"{c['celery']:>6.1f} | {c['judge']:>5.1f} | {c['postgres']:>8.1f} | {c['pg other']:>8.1f} | "
            f"{c['client']:>6.1f} | {c['others']:>6.1f} | {c['machine'] / max(1e-9, c['capacity']):>4.0%} || "
            f"{evaluated:>15} | {judged:>9} | {r.drained.seconds:>7.0f} | {r.drained.purged:>6} | "
            f"{r.drained.revoked:>7}"
        )
    print("tasks the worker finished during the send window (count, wall s inside the tasks):")
    for r in runs:
        print(f"  {r.label:<{w}}{describe_tasks(r.extra['tasks']) or 'none'}")
    print("others, the biggest (CPU s during the send window):")
    for r in runs:
        print(f"  {r.label:<{w}}" + ", ".join(f"{name} {sec:.1f}" for name, sec in r.cpu["others_top"]))
    print()

    def pooled(mode: str) -> list[float]:
        return [x for r in runs if r.mode == mode for x in r.latencies_ms]

    def server(mode: str, key: str) -> float:
        values = [x.get(key, 0.0) for r in runs if r.mode == mode for x in r.server]
        return statistics.median(values) * (1 if key.endswith("_n") else 1000) if values else float("nan")

    off = pooled("off")
    head = (
        f"{'all rounds':<{w}}| {'requests':>8} | {'p50 ms':>6} | {'p99 ms':>6} | {'p50/OFF':>7} | {'p99/OFF':>7} || "
        f"{'srv p50':>7} | {'CPU':>5} | {'runq':>5} | {'in SQL':>6} | {'commit':>6} | {'Redis':>5} | {'SQL/req':>7}"
    )
    print(head)
    print("-" * len(head))
    verdicts = []
    for mode in modes:
        lat = pooled(mode)
        r50, r99 = pct(lat, 0.5) / pct(off, 0.5), pct(lat, 0.99) / pct(off, 0.99)
        if mode != "off":
            verdicts.append(f"{mode}: {'meets' if max(r50, r99) <= TARGET_RATIO else 'MISSES'}")
        print(
            f"{mode:<{w}}| {len(lat):>8} | {pct(lat, 0.5):>6.0f} | {pct(lat, 0.99):>6.0f} | {r50:>7.2f} | "
            f"{r99:>7.2f} || {server(mode, 'wall'):>7.1f} | {server(mode, 'cpu'):>5.1f} | {server(mode, 'runq'):>5.1f} | "
            f"{server(mode, 'sql'):>6.1f} | {server(mode, 'commit'):>6.1f} | {server(mode, 'enqueue'):>5.1f} | "
            f"{server(mode, 'sql_n'):>7.0f}"
        )
    print(f"target: ratio to OFF <= {TARGET_RATIO:.2f} at p50 and p99; " + "; ".join(verdicts))
    print("per round, ratio to that round's OFF run (p50 / p99):")
    for k in sorted({r.round for r in runs}):
        base = next((r for r in runs if r.round == k and r.mode == "off"), None)
        if base is None:
            continue
        cells = [
            f"{r.mode} {pct(r.latencies_ms, 0.5) / pct(base.latencies_ms, 0.5):.2f} / "
            f"{pct(r.latencies_ms, 0.99) / pct(base.latencies_ms, 0.99):.2f}"
            for r in runs
            if r.round == k and r.mode != "off"
        ]
        order = " -> ".join(r.mode for r in runs if r.round == k)
        print(f"  #{k} ({order}): " + ", ".join(cells))
    print()
    print("the slowest 5% of requests of each mode (by wall time inside gunicorn), mean ms per request:")
    head = (
        f"{'mode':<{w}}| {'n':>4} | {'wall':>6} | {'CPU':>5} | {'runq':>5} | {'blocked':>7} | {'in SQL':>6} | "
        f"{'commit':>6} | {'Redis':>5} || {'COMMITs > 50 ms, all requests':>29}"
    )
    print(head)
    print("-" * len(head))
    for mode in modes:
        records = sorted((x for r in runs if r.mode == mode for x in r.server), key=lambda x: x["wall"])
        tail = records[int(len(records) * 0.95) :]
        if not tail:
            continue

        def mean(key, tail=tail):
            return statistics.fmean(x.get(key, 0.0) for x in tail) * 1000

        blocked = mean("wall") - mean("cpu") - mean("runq")
        print(
            f"{mode:<{w}}| {len(tail):>4} | {mean('wall'):>6.1f} | {mean('cpu'):>5.1f} | {mean('runq'):>5.1f} | "
            f"{blocked:>7.1f} | {mean('sql'):>6.1f} | {mean('commit'):>6.1f} | {mean('enqueue'):>5.1f} || "
            f"{sum(1 for x in records if x.get('commit', 0) > 0.05):>29}"
        )
    print("blocked: wall - CPU - runq, i.e. waiting on PostgreSQL, Redis or the socket (in SQL includes its share).")
    print(f"judge scores (run_judge tasks) per trace with judge rules on: {extra['judge_tasks_per_trace']:.1f}")
    print()
    print(
        "p50/p99/max: per request at the client. srv p50 .. SQL/req: medians per request inside gunicorn (POST "
        "/v1/traces, from the hooks): wall, the thread's CPU time, its time runnable but waiting for a CPU "
        "(schedstat), in psycopg execute/executemany/COPY, in COMMIT, in the trace_settle enqueue (Redis), and "
        "the number of SQL statements.\nSecond table, over each run's send window: CPU seconds by component "
        "(postgres: the backends of this database; pg other: the rest of PostgreSQL, other databases included; "
        "client: this process; others: the rest of the machine, i.e. other tenants), busy: the machine's CPU use; "
        "idle ld: its use just before the run with the bench idle; evaluated: traces with rule scores at the end "
        "of the window / after the drain / sent; judged: judge scores of this run's traces finished at the end of "
        "the window / after the drain; drain s, purged, revoked: how long the backlog was given after the run, "
        "the messages then purged from the queue and the tasks the workers held (prefetched, or waiting for an "
        "ETA such as annotations.route_trace's 60 s) revoked, so that each run starts with idle workers and an "
        "empty queue."
    )


def print_rules(res: dict, args) -> None:
    print(
        f"2. Built-in rules (evals.evaluators.run_rules, all {len(rules_cost.BUILTIN_RULES)} BUILTIN_RULES) per llm span"
    )
    head = f"{'target':<44}| {'runs':>6} | {'CPU mean µs':>11} | {'CPU p99 µs':>10} | {'wall mean µs':>12} | {'wall p99 µs':>11}"
    print(head)
    print("-" * len(head))
    for label, key in (
        ("rules_cost.py's RAG answer span", "rag_span"),
        (f"the workload's llm spans ({res['workload_targets']} distinct)", "workload_spans"),
    ):
        wall, cpu = res[key]
        print(
            f"{label:<44}| {len(wall):>6} | {statistics.fmean(cpu):>11.0f} | {pct(cpu, 0.99):>10.0f} | "
            f"{statistics.fmean(wall):>12.0f} | {pct(wall, 0.99):>11.0f}"
        )
    worst = max(pct(res[k][1], 0.99) for k in ("rag_span", "workload_spans"))
    print(
        f"target < {TARGET_RULES_US:.0f} µs for all rules together: {'meets' if worst < TARGET_RULES_US else 'MISSES'} "
        f"(worst CPU p99 {worst:.0f} µs)"
    )
    wall, cpu, queries = res["evaluate"]
    print()
    print(
        f"trace_evaluate() per trace, built-in rules only, PostgreSQL included, in-process ({len(wall)} traces of "
        f"{res['spans_per_trace']:.0f} spans, {res['scores_per_trace']:.1f} scores written per trace):"
    )
    print(
        f"  wall mean {statistics.fmean(wall):.1f} ms, p50 {pct(wall, 0.5):.1f} ms, p99 {pct(wall, 0.99):.1f} ms; "
        f"CPU mean {statistics.fmean(cpu):.1f} ms; {statistics.fmean(queries):.0f} SQL statements per trace"
    )


def print_judges(runs: list[ThroughputRun], profile: dict, args) -> None:
    print(
        f"3. Judge throughput: rubric judge answering after {args.judge_delay * 1000:.0f} ms, one evals.run_judge "
        f"task per pending score (1 chat call each)"
    )
    head = (
        f"{'workers':<28}| {'scores':>6} | {'done':>5} | {'errors':>6} | {'cached':>6} | {'calls':>5} | "
        f"{'wall s':>6} | {'scores/s':>8} | {'max/s':>5} | {'of max':>6} | {'per task ms':>11} | {'worker CPU s':>12}"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        ceiling = r.processes / args.judge_delay
        per_task = r.wall_s * r.processes / max(1, r.done) * 1000
        print(
            f"{r.label:<28}| {r.scores:>6} | {r.done:>5} | {r.errors:>6} | {r.cached:>6} | {r.judge_calls:>5} | "
            f"{r.wall_s:>6.1f} | {r.per_s:>8.2f} | {ceiling:>5.1f} | {r.per_s / ceiling:>5.0%} | {per_task:>11.0f} | "
            f"{r.cpu.get('celery', 0):>12.1f}" + ("  (timed out)" if r.timed_out else "")
        )
    print(
        f"max/s: processes / judge delay (2 / {args.judge_delay:g} s). per task ms: wall x processes / scores, "
        f"the judge's {args.judge_delay * 1000:.0f} ms included; the rest is the task's own work (loading the "
        "score and its trace, the ledger, the judge's internal trace through spans_ingest, write-back) and the "
        "broker round trip."
    )
    print("tasks the workers finished meanwhile (count, wall s in the task):")
    for r in runs:
        print(f"  {r.label}: {describe_tasks(r.tasks)}")
    p = profile
    other = p["total"] - p.get("judge call", 0) - p.get("build_targets", 0) - p.get("ledger", 0) - p.get("finish", 0)
    print()
    print(
        f"One judge task, in-process (evals.judging.judge_score_run on {p['n']} pending rubric scores, no broker; "
        f"mean per task, wall):"
    )
    rows = [
        ("judge_score_run", p["total"]),
        (
            f"  judge call (judge_sync: asyncio.run, client, HTTP incl. the {args.judge_delay * 1000:.0f} ms)",
            p.get("judge call", 0),
        ),
        ("    JudgeClient() (openai.AsyncOpenAI + httpx client)", p.get("client", 0)),
        ("  build_targets (the trace's spans)", p.get("build_targets", 0)),
        ("  cost ledger (_ledger_record)", p.get("ledger", 0)),
        ("    the judge's own trace (_trace_judge_calls -> spans_ingest)", p.get("judge trace", 0)),
        ("  _score_finish (save the score)", p.get("finish", 0)),
        ("    span_write_back", p.get("write back", 0)),
        ("  the rest (load score + rule + spans, cache lookup, attempts)", other),
    ]
    for label, value in rows:
        print(f"  {label:<76}{value:>8.1f} ms")
    print(
        f"  thread CPU {p['cpu']:.1f} ms and {p['sql']:.0f} SQL statements per task; beyond the judge's own "
        f"{args.judge_delay * 1000:.0f} ms a task costs {p['total'] - args.judge_delay * 1000:.0f} ms here"
    )


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 30 requests per run, 1 round, 40 scores")
    parser.add_argument("--requests", type=int, default=200, help="requests per ingest run (default 200)")
    parser.add_argument("--spans-per-request", type=int, default=64, help="spans per request (default 64)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of off/on/judging runs (default 5)")
    parser.add_argument("--gunicorn-workers", type=int, default=3, help="gunicorn worker processes (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--quiet-seconds", type=float, default=1.0, help="PEEKR_TRACE_QUIET_SECONDS (default 1)")
    parser.add_argument(
        "--judge-backlog",
        type=int,
        default=150,
        help="run_judge tasks queued before a 'judging' run (default 150; 0: no such runs)",
    )
    parser.add_argument("--ingest-judge-delay", type=float, default=0.2, help="judge delay in part 1 (s)")
    parser.add_argument("--drain-timeout", type=float, default=20.0, help="s the backlog gets after a run")
    parser.add_argument("--rule-runs", type=int, default=20_000, help="run_rules calls per target set")
    parser.add_argument("--evaluate-traces", type=int, default=300, help="traces for trace_evaluate timing")
    parser.add_argument("--scores", type=int, default=200, help="judge scores per throughput run (default 200)")
    parser.add_argument("--judge-delay", type=float, default=0.2, help="judge delay in part 3 (s, default 0.2)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="recreated on every run")
    parser.add_argument("--broker-url", default=DEFAULT_BROKER_URL, help="flushed at start and end")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--keep-logs", action="store_true", help="keep the gunicorn/worker/judge logs (printed path)")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run (default 1,2,3)")
    parser.add_argument("--verbose", action="store_true", help="print the backlog while draining (stderr)")
    parser.add_argument("--serve-judge", choices=["ragas", "rubric"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_judge:
        serve_judge(args.serve_judge, args.judge_delay)
        return
    if args.quick:
        args.requests, args.rounds, args.scores = 30, 1, 40
        args.rule_runs, args.evaluate_traces, args.drain_timeout = 2_000, 60, 10.0

    database = args.database_url.rsplit("/", 1)[-1]
    bench = _env.prepare(  # a database of its own (peekr_bench* only), Redis db flushed, a fresh data dir
        database_url=args.database_url,
        broker_url=args.broker_url,
        prefix="peekr-bench-evals-",
        extra={
            "PEEKR_TRACE_QUIET_SECONDS": str(args.quiet_seconds),
            "PEEKR_JUDGE_BASE_URL": "",
            "PEEKR_JUDGE_MODEL": "",
            "PEEKR_JUDGE_ALLOW_PRIVATE": "1",  # the bench's judge listens on 127.0.0.1
        },
        django=False,  # set up below, inside the try: the database is dropped whatever happens
    )
    env, data_dir, redis_client = bench.env, bench.data_dir, bench.redis
    parts = {p.strip() for p in args.parts.split(",")}
    ingest_runs: list[IngestRun] = []
    started = datetime.now(UTC)
    try:
        _env.setup_django(env)
        from peekr_web.celery import app

        pg = _env.database_version().split()[-1]
        meter = CpuMeter(database)
        if "1" in parts:
            print(
                f"1. ingest with judge rules off and on ({args.rounds} round(s) of off, on, judging runs) ...",
                flush=True,
            )
            ingest_runs, ingest_extra = part_ingest(args, env, data_dir, redis_client, app, meter)
            app.control.purge()
        if "2" in parts:
            print("2. built-in rules per span, trace_evaluate per trace ...", flush=True)
            rules = part_rules(args)
            app.control.purge()  # the trace_settle messages of its in-process ingest
        if "3" in parts:
            print("3. judge throughput ...", flush=True)
            judge_runs, judge_profile = part_judges(args, env, data_dir, app, redis_client, meter)
    finally:
        redis_client.flushdb()
        log_problems = worker_log_problems(data_dir)
        if args.keep_logs and ingest_runs:
            raw = [
                {"label": r.label, "mode": r.mode, "latencies_ms": r.latencies_ms, "server": r.server}
                for r in ingest_runs
            ]
            (data_dir / "ingest_runs.json").write_text(json.dumps(raw))
        if args.keep_logs:
            print(f"logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url)

    print()
    print(
        f"Peekr evaluation overhead, {started:%Y-%m-%d %H:%M} UTC, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, PostgreSQL {pg}, Redis broker (db "
        f"{args.broker_url.rsplit('/', 1)[-1]}), everything on the same machine{' (--quick)' if args.quick else ''}"
    )
    if "1" in parts:
        print()
        print_ingest(ingest_runs, args, ingest_extra)
    if "2" in parts:
        print()
        print_rules(rules, args)
    if "3" in parts:
        print()
        print_judges(judge_runs, judge_profile, args)
    print()
    print(
        "worker logs: "
        + (", ".join(f"{name}: {n} error/traceback lines" for name, n in log_problems.items()) or "none")
        + ("" if any(log_problems.values()) else " (no errors)")
    )


def worker_log_problems(data_dir: Path) -> dict[str, int]:
    """Lines of each worker log that report an error (a task that raised, a traceback)."""
    out = {}
    for path in sorted(data_dir.glob("worker-*.log")):
        text = path.read_text(errors="replace")
        out[path.stem] = sum(1 for line in text.splitlines() if "ERROR" in line or line.startswith("Traceback"))
    return out


def drop_database(url: str) -> None:
    import urllib.parse

    import psycopg

    parsed = urllib.parse.urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.startswith("peekr_bench"):
        return
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
