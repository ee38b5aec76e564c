"""Run a rule on existing traces (evals.backfill) in the real Celery worker, against the local judge server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from evals import backfill
from evals.models import Backfill, JudgeCall, Score
from evals.services import eval_rule_create
from tests.base import hex_id, llm_attributes, make_raw_span, make_rubric_rule
from tests.evals.test_pipeline_worker import wait_for
from tests.fake_openai import FakeOpenAI
from traces.models import Trace
from traces.services import spans_ingest

N_TRACES = 8
N_MANY = 40  # the cancel test's traces


@pytest.fixture
def old_traces(transactional_db, project, monkeypatch):
    """Completed traces stored before the worker starts (it purges their settle messages): only a backfill
    evaluates them. The worker takes two traces per batch."""
    monkeypatch.setenv("PEEKR_BACKFILL_BATCH", "2")
    for i in range(N_TRACES):
        question_trace(project, f"Question number {i}: what is the capital of France?")
    Trace.objects.filter(project=project).update(completed_at=timezone.now())
    # $1,000 per million tokens: a judgement's estimate (~1,000 tokens) is ~$1, its real cost (59 tokens) ~$0.06
    project.price_overrides = {"judge-model": {"input": 1000.0, "output": 1000.0}}
    project.save(update_fields=["price_overrides"])
    return list(Trace.objects.filter(project=project))


@pytest.fixture
def many_old_traces(old_traces, project):
    """Enough batches (20) that the job is still running when the test cancels it after its first one: with 4,
    a quiet machine finished them all between two polls."""
    for i in range(N_TRACES, N_MANY):
        question_trace(project, f"Question number {i}: what is the capital of France?")
    Trace.objects.filter(project=project).update(completed_at=timezone.now())


def question_trace(project, prompt: str) -> None:
    """A root and one chat call, its question distinct (identical inputs would share the judge cache)."""
    trace_id = hex_id(16)
    root = make_raw_span(trace_id=trace_id, name="answer", start=time.time() - 60, duration=2.0)
    llm = make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, name="chat gpt-4o-mini", kind=3,
                        start=time.time() - 59.5, duration=1.0, attributes=llm_attributes(prompt=prompt))  # fmt: skip
    spans_ingest(project=project, raws=[root, llm])


def rubric_judge(delay: float = 0.0) -> FakeOpenAI:
    return FakeOpenAI(answer='{"score": 5, "reason": "Polite."}', delay=delay)


def last_hour():
    now = timezone.now()
    return now - timedelta(hours=1), now + timedelta(minutes=1)


def finished(job_pk):
    job = Backfill.objects.get(pk=job_pk)
    return job if not job.active else None


@pytest.mark.worker
def test_a_backfill_scores_every_matching_trace_once_and_a_rerun_writes_nothing(
    old_traces, celery_worker_process, project
):
    with rubric_judge() as judge:
        rule = make_rubric_rule(project, judge)
        start, end = last_hour()
        job = backfill.backfill_start(rule=rule, start=start, end=end)
        assert job.total == N_TRACES
        job = wait_for(lambda: finished(job.pk), 60, "the backfill to finish")
        assert (job.status, job.done, job.judgements) == ("done", N_TRACES, N_TRACES)
        wait_for(
            lambda: Score.objects.filter(rule=rule, evaluator="rubric", status="done").count() == N_TRACES,
            60,
            "every judgement",
        )
        scores = set(Score.objects.filter(rule=rule).values_list("pk", "target_key", "updated_at"))
        calls = len(judge.requests)

        again = backfill.backfill_start(rule=rule, start=start, end=end)
        again = wait_for(lambda: finished(again.pk), 60, "the second backfill to finish")
        time.sleep(1.5)  # a judgement it had queued would have reached the judge by now
    assert (again.status, again.done, again.judgements) == ("done", N_TRACES, 0)
    assert set(Score.objects.filter(rule=rule).values_list("pk", "target_key", "updated_at")) == scores
    assert len(judge.requests) == calls == N_TRACES  # nothing judged twice
    # the same key as live evaluation: one score per (span, evaluator, rubric version, judge model)
    assert {k.split(":")[0] for _, k, _ in scores} == {"span"}


@pytest.mark.worker
def test_a_backfill_is_held_to_the_rules_daily_cost_cap(old_traces, celery_worker_process, project):
    with rubric_judge() as judge:
        # room for one reservation (~$1.0) and not for a second on top of the first's real cost (~$0.06)
        rule = make_rubric_rule(project, judge, daily_cost_cap=1.05)
        job = backfill.backfill_start(rule=rule, start=last_hour()[0], end=last_hour()[1])
        wait_for(lambda: finished(job.pk), 60, "the backfill to finish")
        wait_for(
            lambda: not Score.objects.filter(rule=rule, status="pending").exists(), 60, "every judgement to settle"
        )
    skipped = Score.objects.filter(rule=rule, status="skipped", error__startswith="skipped for budget").count()
    assert skipped == N_TRACES - 1
    assert Score.objects.filter(rule=rule, status="done").count() == 1
    spent = sum(JudgeCall.objects.filter(rule=rule).values_list("cost", flat=True))
    assert spent <= 1.05


@pytest.mark.worker
def test_a_cancelled_backfill_stops_before_its_next_batch(many_old_traces, celery_worker_process, project):
    # Rule evaluators only: no judge task holds the worker's two processes, so nothing but the cancel can stop it.
    rule = eval_rule_create(project=project, name="pii on everything", evaluators=["pii"])
    job = backfill.backfill_start(rule=rule, start=last_hour()[0], end=last_hour()[1])
    wait_for(lambda: Backfill.objects.get(pk=job.pk).done >= 2, 30, "the first batch")
    assert backfill.backfill_cancel(job=job)
    done_then = Backfill.objects.get(pk=job.pk).done
    time.sleep(5)  # the batches left take a few seconds when nothing stops them
    job = Backfill.objects.get(pk=job.pk)
    assert job.status == "cancelled"
    assert job.done <= done_then + 2 < N_MANY  # at most the batch in flight when it was cancelled
    scored_traces = Score.objects.filter(rule=rule).values("trace_id").distinct().count()
    assert scored_traces == job.done < N_MANY
