"""Never forget a trace, with the real worker (and beat) processes: the broker goes away while traces complete,
or the worker is killed mid-batch, and every trace still ends up evaluated, detected and routed exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
from django.db.models import Count

from evals.models import Score
from insights.models import Finding
from tests.base import stop_process_group
from tests.insights.stored import sequential_trace
from traces import pipeline
from traces.models import Trace

FAST_SWEEPS = {
    "PEEKR_TRACE_QUIET_SECONDS": "1",
    "PEEKR_SETTLE_SWEEP_SECONDS": "2",
    "PEEKR_PIPELINE_SWEEP_AFTER_SECONDS": "4",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def worker_with_beat(env: dict, tmp_path):
    """The pipeline worker as `make run` starts it (queue celery, with beat), in its own process group."""
    log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "peekr_web", "worker", "--beat", "-Q", "celery",
             "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--schedule", str(tmp_path / f"beat-{time.monotonic_ns()}"), "--hostname", f"pipe-{os.getpid()}@%h"],
            env={**env, **FAST_SWEEPS},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        proc.log_path = log_path
        try:
            yield proc
        finally:
            stop_process_group(proc)


def wait_processed(pks: list[int], timeout: float, proc) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not Trace.objects.filter(pk__in=pks, processed_at__isnull=True).exists():
            return
        time.sleep(0.5)
    left = Trace.objects.filter(pk__in=pks, processed_at__isnull=True).values_list("pk", "completed_at", "stages_done")
    raise AssertionError(f"unprocessed after {timeout:.0f} s: {list(left)}\n{proc.log_path.read_text()[-4000:]}")


def assert_exactly_once(pks: list[int]) -> None:
    """One finding per trace (its sequential calls) and the same rule scores on every trace: nothing twice."""
    assert Trace.objects.filter(pk__in=pks, stages_done=pipeline.all_stages_mask()).count() == len(pks)
    findings = Finding.objects.filter(trace_id__in=pks, detector="sequential_execution")
    assert sorted(findings.values_list("trace_id", flat=True)) == sorted(pks)
    per_trace = Score.objects.filter(trace_id__in=pks, source="rule").values("trace").annotate(n=Count("pk"))
    counts = {row["trace"]: row["n"] for row in per_trace}
    assert set(counts) == set(pks) and len(set(counts.values())) == 1, counts


@pytest.mark.worker
@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to stop and start a broker")
def test_traces_completed_while_the_broker_is_down_are_processed_once_it_is_back(
    project, subprocess_env, tmp_path, settings
):
    from peekr_web.celery import app

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    redis = subprocess.Popen(redis_argv, stdout=subprocess.DEVNULL)
    original = app.conf.broker_url
    app.conf.broker_url = url
    try:
        time.sleep(0.5)
        with worker_with_beat({**subprocess_env, "PEEKR_BROKER_URL": url}, tmp_path) as worker:
            before = [sequential_trace(project, complete=False).pk for _ in range(3)]
            redis.terminate()  # gone, with every message it held
            redis.wait(timeout=10)
            during = [sequential_trace(project, complete=False).pk for _ in range(3)]  # stored; enqueue fails
            time.sleep(3)
            redis = subprocess.Popen(redis_argv, stdout=subprocess.DEVNULL)
            wait_processed(before + during, timeout=120, proc=worker)
    finally:
        app.conf.broker_url = original
        redis.terminate()
        redis.wait(timeout=10)
    assert_exactly_once(before + during)


@pytest.mark.worker
def test_a_worker_killed_mid_way_leaves_nothing_behind(project, subprocess_env, tmp_path):
    pks = [sequential_trace(project, complete=False).pk for _ in range(40)]
    with worker_with_beat(subprocess_env, tmp_path) as worker:
        deadline = time.time() + 60
        while time.time() < deadline:
            if Trace.objects.filter(pk__in=pks, stages_done__gt=0).exists():
                break
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool child, mid-way: its message is not acked
        worker.wait(timeout=10)
        unprocessed = Trace.objects.filter(pk__in=pks, processed_at__isnull=True).count()
    assert unprocessed > 0, "the kill came after every trace was done: nothing was tested"

    # A new worker, as make run's supervisor starts one: the sweep re-runs what the killed one held.
    with worker_with_beat(subprocess_env, tmp_path) as worker:
        wait_processed(pks, timeout=120, proc=worker)
    assert_exactly_once(pks)


@contextmanager
def judge_worker(env: dict, tmp_path):
    """The judge worker as `make run` starts it: queue judges only, a thread pool."""
    log_path = tmp_path / f"judges-{time.monotonic_ns()}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "peekr_web", "worker", "-Q", "judges", "--pool", "threads",
             "--concurrency", "4", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--hostname", f"judges-{os.getpid()}@%h"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        proc.log_path = log_path
        try:
            yield proc
        finally:
            stop_process_group(proc)


@pytest.mark.worker
def test_a_slow_judge_never_holds_up_rules_detectors_or_routing(project, subprocess_env, tmp_path):
    """Judge calls that take 20 s each wait in the judge worker's threads; the pipeline worker goes on."""
    from tests.base import make_rubric_rule
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI(answer='{"score": 5, "reason": "ok"}', delay=20) as judge:
        make_rubric_rule(project, judge)
        with worker_with_beat(subprocess_env, tmp_path) as worker, judge_worker(subprocess_env, tmp_path):
            pks = [sequential_trace(project, complete=False).pk for _ in range(8)]
            wait_processed(pks, timeout=60, proc=worker)
            pending = Score.objects.filter(trace_id__in=pks, source="judge", status="pending").count()
            deadline = time.time() + 15
            while len(judge.requests) < 4 and time.time() < deadline:
                time.sleep(0.2)
            in_flight = len(judge.requests)

    assert pending == len(pks) * 2, "the traces were processed while every judgement still waited"
    assert in_flight >= 4, "the judge worker's threads wait on the judge together, not one after another"
    assert_exactly_once(pks)
