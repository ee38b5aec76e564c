"""Rephrases found by the worker's signals stage in a session built for the test, and judged by the existing
evaluation trigger (a rule with the "signal" trigger, sampling nothing else)."""

import time

import pytest

from evals.models import Score
from signals.models import Signal
from tests.base import llm_attributes, make_rubric_rule, make_turn, user_token
from tests.fake_openai import FakeOpenAI
from traces.pipeline import pipeline_run

LLM = {"name": "chat gpt-4o-mini", "kind": 3, "attributes": llm_attributes()}
JUDGE = '{"score": 2, "reason": "Did not answer."}'


def session(project, texts, gaps, *, session="s-1"):
    start = time.time() - 3600
    out = []
    for text, gap in zip(texts, gaps, strict=True):
        start += gap
        out.append(make_turn(project, session=session, text=text, start=start, children=[LLM]))
    return out


@pytest.mark.django_db
def test_a_rephrase_in_the_same_session_is_stored_with_its_evidence_and_judged(
    project, django_capture_on_commit_callbacks, eager_tasks
):
    with FakeOpenAI(answer=JUDGE) as judge:
        make_rubric_rule(project, judge, sample_rate=0.0, triggers=["signal"])
        t1, t2, t3 = session(
            project,
            ["How do I reset my password?", "how can I reset my password", "Thanks! And how do I delete my account?"],
            [0, 60, 120],
        )
        with django_capture_on_commit_callbacks(execute=True):
            pipeline_run(trace_pks=[t1.pk, t2.pk, t3.pk])

        sig = Signal.objects.get(kind="rephrase")
        assert (
            sig.trace_id == t1.pk
            and sig.source == "derived"
            and sig.session_id == "s-1"
            and sig.user_id == user_token(project, "u1")
        )
        assert sig.evidence["traces"] == [t1.trace_id, t2.trace_id]
        assert sig.evidence["similarity"] >= 85 and 0 < sig.evidence["gap_seconds"] <= 600
        assert 0.85 <= sig.value <= 1
        # routing: rephrase -> judge. Only the rephrased trace was judged (the rule samples 0 %).
        judged = Score.objects.filter(evaluator="rubric", source="judge")
        assert {s.trace_id for s in judged} == {t1.pk}
        assert all(s.status == "done" for s in judged) and len(judge.requests) == len(judged)

        with django_capture_on_commit_callbacks(execute=True):
            pipeline_run(trace_pks=[t1.pk, t2.pk, t3.pk])  # already processed: nothing new
        assert Signal.objects.filter(kind="rephrase").count() == 1


@pytest.mark.django_db
def test_the_next_turn_arriving_later_marks_the_earlier_trace_and_sends_it_to_the_judge(
    project, django_capture_on_commit_callbacks, eager_tasks
):
    with FakeOpenAI(answer=JUDGE) as judge:
        make_rubric_rule(project, judge, sample_rate=0.0, triggers=["signal"])
        t1 = session(project, ["Where is my parcel 778?"], [0])[0]
        with django_capture_on_commit_callbacks(execute=True):
            pipeline_run(trace_pks=[t1.pk])
        assert not Score.objects.filter(evaluator="rubric").exists()

        t2 = make_turn(project, session="s-1", text="where is parcel 778", start=t1.start_time.timestamp() + 90)
        with django_capture_on_commit_callbacks(execute=True):
            pipeline_run(trace_pks=[t2.pk])

        assert Signal.objects.get(kind="rephrase").trace_id == t1.pk
        assert Score.objects.get(evaluator="rubric", source="judge").trace_id == t1.pk


@pytest.mark.django_db
def test_turns_further_apart_than_the_window_or_in_other_sessions_are_not_rephrases(project):
    t1 = make_turn(project, session="a", text="How do I reset my password?", start=time.time() - 3600)
    t2 = make_turn(project, session="a", text="How do I reset my password?", start=time.time() - 3600 + 900)
    t3 = make_turn(project, session="b", text="How do I reset my password?", start=time.time() - 3600 + 920)
    pipeline_run(trace_pks=[t1.pk, t2.pk, t3.pk])
    assert not Signal.objects.filter(kind="rephrase").exists()
