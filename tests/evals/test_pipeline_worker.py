"""Evaluation with the real Celery worker process (Redis in CI, the filesystem broker on a laptop)."""

import os
import re
import signal
import subprocess
import time
from datetime import timedelta

import pytest

from evals.judging import judge_requeue_stale
from evals.models import Score
from tests.base import make_rubric_rule
from tests.evals.pipeline import rag_trace
from tests.fake_openai import FakeOpenAI
from tests.otlp_payloads import fixture_bytes
from traces.models import Trace


def slow_rubric_judge(delay: float) -> FakeOpenAI:
    return FakeOpenAI(answer='{"score": 5, "reason": "Polite and on topic."}', delay=delay)


def rubric_rule(project, judge):
    return make_rubric_rule(project, judge)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _pids_connected_to(port: str) -> list[int]:
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"dport = :{port}"], capture_output=True, text=True)
    return [int(p) for p in re.findall(r"pid=(\d+)", out.stdout) if int(p) != os.getpid()]


def post_fixture(client, key, name="openinference__rag.pb"):
    started = time.perf_counter()
    resp = client.post(
        "/v1/traces",
        data=fixture_bytes(name),
        content_type="application/x-protobuf",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    return resp, time.perf_counter() - started


@pytest.mark.worker
def test_a_5_second_judge_never_slows_ingestion_and_its_score_arrives_later(
    celery_worker_process, client, project, api_key
):
    _, without_judge = post_fixture(client, api_key, "genai-v2__chat.pb")
    with slow_rubric_judge(delay=5.0) as judge:
        rubric_rule(project, judge)
        resp, with_judge = post_fixture(client, api_key)
        assert resp.status_code == 200
        # The request only stores and enqueues: nowhere near the judge's 5 s.
        assert with_judge < 2.0, f"ingestion took {with_judge:.2f}s with a 5 s judge (without: {without_judge:.2f}s)"
        trace = Trace.objects.get(project=project, name="rag.answer")
        assert not Score.objects.filter(trace=trace, evaluator="rubric", status="done").exists()

        score = wait_for(
            lambda: Score.objects.filter(trace=trace, evaluator="rubric", status="done").first(), 60, "the rubric score"
        )
    assert score.value == pytest.approx(1.0) and score.passed is True
    assert score.latency_ms >= 5000
    assert Score.objects.filter(trace=trace, evaluator="pii", status="done").exists()  # rules ran in the worker


@pytest.mark.worker
def test_a_worker_killed_mid_judgement_leaves_exactly_one_score(celery_worker_process, project):
    with slow_rubric_judge(delay=4.0) as judge:
        rubric_rule(project, judge)
        trace = rag_trace(project)  # committed: settling, evaluation and the judge run in the worker

        port = judge.base_url.split(":")[2].split("/")[0]
        # The pool process running the judge task is the one holding a connection to the judge.
        busy = wait_for(lambda: _pids_connected_to(port), 60, "the judge call to start")
        os.kill(busy[0], signal.SIGKILL)  # acks_late + reject_on_worker_lost: the message goes back
        # Redis redelivers the unacked message by itself; the filesystem broker has no redelivery, and the beat's
        # sweep of stale pending scores (run here at once instead of after 5 min) enqueues it again.
        judge_requeue_stale(older_than=timedelta(0))
        score = wait_for(
            lambda: Score.objects.filter(trace=trace, evaluator="rubric", status="done").first(),
            90,
            "the rubric score after the kill",
        )
    assert Score.objects.filter(trace=trace, evaluator="rubric").count() == 1
    assert score.attempts >= 2
    assert len(judge.requests) >= 2
    assert celery_worker_process.poll() is None  # only the pool child died; the worker carried on
