"""What a signal costs the worker: a later signal sends its trace to the judge only in a project with a rule on the
"signal" trigger, and a signal found while the pipeline processes its trace queues no second rollup (the pipeline's
own rollup stage runs after the signals stage). Tasks are observed as published to the broker, not run."""

import time

import pytest
from celery.signals import before_task_publish

from metrics.models import RollupPending
from signals.models import Signal
from tests.base import llm_attributes, make_rubric_rule, make_turn
from tests.fake_openai import FakeOpenAI
from traces.pipeline import pipeline_run

LLM = {"name": "chat gpt-4o-mini", "kind": 3, "attributes": llm_attributes()}


@pytest.fixture
def published():
    names: list[str] = []

    def record(sender=None, **kwargs):
        names.append(sender)

    before_task_publish.connect(record, weak=False)
    yield names
    before_task_publish.disconnect(record)


def first_turn_then_rephrase(project, capture):
    t1 = make_turn(project, session="s-1", text="Where is my parcel 778?", start=time.time() - 3600, children=[LLM])
    with capture(execute=True):
        pipeline_run(trace_pks=[t1.pk])
    RollupPending.objects.all().delete()
    t2 = make_turn(project, session="s-1", text="where is parcel 778", start=t1.start_time.timestamp() + 90)
    return t1, t2


@pytest.mark.django_db
def test_a_later_rephrase_is_not_sent_to_the_judge_without_a_rule_on_the_signal_trigger(
    project, django_capture_on_commit_callbacks, published
):
    t1, t2 = first_turn_then_rephrase(project, django_capture_on_commit_callbacks)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_run(trace_pks=[t2.pk])

    assert Signal.objects.get(kind="rephrase").trace_id == t1.pk
    assert "evals.evaluate_trace" not in published
    # t1 was processed before: its signal rate moved, so its rollup is queued again (t2's own ran in the pipeline)
    assert set(RollupPending.objects.values_list("trace_id", flat=True)) == {t1.pk}


@pytest.mark.django_db
def test_a_later_rephrase_is_sent_to_the_judge_when_a_rule_evaluates_on_the_signal_trigger(
    project, django_capture_on_commit_callbacks, published
):
    with FakeOpenAI(answer='{"score": 2, "reason": "no"}') as judge:
        make_rubric_rule(project, judge, sample_rate=0.0, triggers=["signal"])
        t1, t2 = first_turn_then_rephrase(project, django_capture_on_commit_callbacks)
        published.clear()
        with django_capture_on_commit_callbacks(execute=True):
            pipeline_run(trace_pks=[t2.pk])

    assert published.count("evals.evaluate_trace") == 1


@pytest.mark.django_db
def test_signals_found_in_the_pipeline_queue_no_second_rollup(project, django_capture_on_commit_callbacks):
    start = time.time() - 3600
    turns = [
        make_turn(project, session="s-1", text=text, start=start + gap, children=[LLM])
        for text, gap in [("How do I reset my password?", 0), ("how can I reset my password", 60)]
    ]
    with django_capture_on_commit_callbacks(execute=True):
        pipeline_run(trace_pks=[t.pk for t in turns])

    assert Signal.objects.filter(kind="rephrase").count() == 1
    assert not RollupPending.objects.exists()
