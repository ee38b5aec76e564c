"""?evaluate=sync judges within PEEKR_SYNC_EVAL_SECONDS: a slow judge URL cannot hold a web thread for longer,
nor every thread at once; what is not judged in time stays pending for the worker, never an error."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.db import connection

from evals import judging
from evals.models import Score
from tests.base import make_rubric_rule
from tests.evals.pipeline import rag_trace
from tests.fake_openai import FakeOpenAI

JUDGE_DELAY = 8.0


def sdk_batch() -> dict:
    trace_id, root_id, start = uuid.uuid4().hex, uuid.uuid4().hex, time.time() - 5
    return {
        "spans": [
            {"name": "answer", "trace_id": trace_id, "span_id": root_id, "parent_id": None, "start_time": start,
             "end_time": start + 2, "attributes": {}, "status": "ok"},
            {"name": "openai.chat.completions.create", "trace_id": trace_id, "span_id": uuid.uuid4().hex,
             "parent_id": root_id, "start_time": start + 0.3, "end_time": start + 1.5, "status": "ok",
             "attributes": {"model": "gpt-4o-mini", "input": "Hi?", "output": "Hello, how can I help?"}},
        ]
    }  # fmt: skip


@pytest.mark.django_db
def test_a_slow_judge_is_cut_off_at_the_deadline_and_left_to_the_worker(client, project, api_key, settings):
    settings.PEEKR_SYNC_EVAL_SECONDS = 1.0
    with FakeOpenAI(answer='{"score": 5, "reason": "ok"}', delay=JUDGE_DELAY) as judge:
        make_rubric_rule(project, judge)
        started = time.monotonic()
        response = client.post(
            "/v1/spans?evaluate=sync",
            data=json.dumps(sdk_batch()),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {api_key}",
        )
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed < JUDGE_DELAY / 2, f"the request waited {elapsed:.1f} s for the judge"
    scores = {s["evaluator"]: s for s in response.json()["scores"]}
    assert scores["rubric"]["status"] == "pending", "not an error: the worker finishes it"
    assert "non_empty" in scores, "rule evaluators still answered"
    assert Score.objects.get(evaluator="rubric").status == Score.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_past_the_concurrency_bound_sync_requests_do_not_wait_for_judges(project, settings):
    settings.PEEKR_SYNC_EVAL_SECONDS = 30.0
    with FakeOpenAI(answer='{"score": 5, "reason": "ok"}', delay=3.0) as judge:
        make_rubric_rule(project, judge)
        slots = settings.PEEKR_SYNC_EVAL_CONCURRENCY
        slow, fast = [rag_trace(project) for _ in range(slots)], rag_trace(project)

        def hold_a_slot(trace):
            try:
                judging.trace_evaluate_sync(trace_pks=[trace.pk])
            finally:
                connection.close()

        holders = [threading.Thread(target=hold_a_slot, args=(trace,)) for trace in slow]
        for holder in holders:
            holder.start()
        deadline = time.monotonic() + 20
        while len(judge.requests) < len(holders) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(judge.requests) == len(holders), "every slot is busy with a slow judge"
        started = time.monotonic()
        judged_now = judging.trace_evaluate_sync(trace_pks=[fast.pk])
        elapsed = time.monotonic() - started
        for holder in holders:
            holder.join(timeout=30)

    assert judged_now is False
    assert elapsed < 1.0
    assert not Score.objects.filter(trace=fast).exists(), "left to the worker once the trace settles"
