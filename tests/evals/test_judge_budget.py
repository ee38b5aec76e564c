"""The daily judge cap holds when several workers judge at once, and a judgement cut off mid-call still counts.

Before each call the estimate is reserved in the ledger under a lock on the rule; the real calls replace it
when the judge answers. A reservation left by a killed worker stays as the estimate: spend is never
under-reported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection

from evals import judging, services
from evals.budget import estimate_cost, spent_today
from evals.models import JudgeCall, Score
from tests.base import make_rubric_rule
from tests.evals.pipeline import rag_trace
from tests.fake_openai import FakeOpenAI

JUDGE_MODEL = "gpt-4o"  # priced (traces.pricing), and not the model the traces' spans used
RUBRIC_REPLY = '{"score": 5, "reason": "Polite."}'


def capped_rule(project, judge: FakeOpenAI, cap: float | None):
    return make_rubric_rule(project, judge, judge_model=JUDGE_MODEL, daily_cost_cap=cap)


def pending_scores(project, n: int) -> list[int]:
    pending = []
    for _ in range(n):
        pending += services.trace_evaluate(trace_pk=rag_trace(project).pk)
    return pending


def one_estimate(score_pk: int) -> float:
    score = Score.objects.select_related("span").get(pk=score_pk)
    targets, _ = services.build_targets(list(score.trace.spans.all()))
    target = next(t for t in targets if t.span_id == score.span.span_id)
    return estimate_cost(evaluator="rubric", target=target, model=JUDGE_MODEL)


def judge_in_thread(score_pk: int) -> threading.Thread:
    def run():
        try:
            judging.judge_score_run(score_pk=score_pk)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_cannot_spend_past_the_cap(project):
    with FakeOpenAI(answer=RUBRIC_REPLY, delay=0.5) as judge:
        rule = capped_rule(project, judge, cap=None)
        first, second = pending_scores(project, 2)
        estimate = one_estimate(first)
        rule.daily_cost_cap = 1.5 * estimate  # room for one judgement, not two
        rule.save()

        threads = [judge_in_thread(first), judge_in_thread(second)]
        for thread in threads:
            thread.join(timeout=30)

    statuses = sorted(Score.objects.filter(pk__in=[first, second]).values_list("status", flat=True))
    assert statuses == [Score.Status.DONE, Score.Status.SKIPPED]
    skipped = Score.objects.get(pk__in=[first, second], status=Score.Status.SKIPPED)
    assert skipped.error.startswith("skipped for budget")
    assert len(judge.requests) == 1, "only one judgement reached the judge"
    assert spent_today(rule) <= rule.daily_cost_cap


@pytest.mark.django_db
def test_the_reservation_is_replaced_by_the_calls_made(project):
    with FakeOpenAI(answer=RUBRIC_REPLY, usage=(1000, 100)) as judge:
        rule = capped_rule(project, judge, cap=10.0)
        (score_pk,) = pending_scores(project, 1)
        judging.judge_score_run(score_pk=score_pk)

    ledger = list(JudgeCall.objects.filter(rule=rule))
    assert [c.estimated for c in ledger] == [False]
    assert ledger[0].cost == pytest.approx((1000 * 2.50 + 100 * 10.00) / 1_000_000)


@pytest.mark.django_db
def test_a_refused_call_releases_its_reservation(project, settings):
    with FakeOpenAI(answer=RUBRIC_REPLY) as judge:
        rule = capped_rule(project, judge, cap=10.0)
        (score_pk,) = pending_scores(project, 1)
        settings.PEEKR_JUDGE_ALLOW_PRIVATE = False  # the guarded client refuses before any request
        judging.judge_score_run(score_pk=score_pk)

    assert judge.requests == []
    assert not JudgeCall.objects.filter(rule=rule).exists(), "nothing was spent, nothing stays reserved"


@pytest.mark.django_db(transaction=True)
def test_a_judge_call_killed_mid_flight_stays_in_the_ledger_as_its_estimate(project, subprocess_env):
    with FakeOpenAI(answer=RUBRIC_REPLY, delay=60) as judge:
        rule = capped_rule(project, judge, cap=10.0)
        (score_pk,) = pending_scores(project, 1)
        code = f"from evals.judging import judge_score_run; judge_score_run(score_pk={score_pk})"
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", code], env=subprocess_env, start_new_session=True
        )
        try:
            deadline = time.time() + 60
            while not judge.requests and time.time() < deadline and worker.poll() is None:
                time.sleep(0.1)
            assert judge.requests, "the judge call started"
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

    (reservation,) = JudgeCall.objects.filter(rule=rule)
    assert reservation.estimated and reservation.cost == pytest.approx(one_estimate(score_pk))
    assert reservation.cost > 0
    assert spent_today(rule) == pytest.approx(reservation.cost)
