"""Evaluator modes in the pipeline: a shadow rule scores live traffic (its scores say "shadow") but never routes a
trace to review, never fires an evaluation trigger and never counts in the dashboards; an advisory rule does
all of that as before modes existed."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotations.models import QueueItem
from annotations.services import routing_rule_create, traces_route
from evals import modes
from evals.evaluators import BUILTIN_RULES
from evals.evaluators.types import EvalResult
from evals.models import EvalRule, Score
from evals.services import eval_rule_create, eval_rule_pause, rules_for_project, score_record
from tests.annotations.helpers import make_queue
from tests.base import make_judge_connection
from tests.evals.pipeline import rag_trace
from tests.fake_openai import FakeOpenAI
from traces import pipeline
from traces.models import Span, Trace


def complete(*traces: Trace) -> list[int]:
    pks = [t.pk for t in traces]
    Trace.objects.filter(pk__in=pks).update(completed_at=timezone.now())
    return pks


@pytest.fixture
def judge():
    with FakeOpenAI(answer='{"score": 5, "reason": "fine"}') as server:
        yield server


@pytest.fixture
def scene(project, judge):
    """A review queue fed by failing rules, a judge evaluated only when a rule fails, the built-in rule paused
    (it has error too), and an error rule of the user's."""
    queue = make_queue(project, "flagged")
    routing_rule_create(queue=queue, kind="failing_rule")
    eval_rule_pause(rule=rules_for_project(project=project)[0], reason="this test's rule is the user's")
    eval_rule_create(
        project=project, name="judge on failures", evaluators=["rubric"], filter={"kind": "llm"}, sample_rate=0.0,
        triggers=["failing_rule"], judge_connection_id=make_judge_connection(project, judge.base_url).pk,
        judge_model="judge-model", config={"rubric": {"criteria": "Polite.", "scale": {"min": 1, "max": 5}}},
        mode="advisory",
    )  # fmt: skip
    mine = eval_rule_create(project=project, name="no failed spans", evaluators=["error"], filter={"kind": "llm"})
    return queue, mine


@pytest.mark.django_db
def test_a_new_rule_starts_in_shadow_and_the_built_in_rule_blocks(project):
    rule = eval_rule_create(project=project, name="pii", evaluators=["pii"])
    assert EvalRule.objects.get(pk=rule.pk).mode == "shadow"
    assert rules_for_project(project=project)[0].mode == "blocking"  # deterministic checks only


@pytest.mark.django_db
def test_a_shadow_rules_failing_score_never_routes_nor_triggers_a_judge(project, scene):
    queue, mine = scene
    pks = complete(rag_trace(project, error=True))

    ran = pipeline.pipeline_run(trace_pks=pks)

    assert ran["evaluate"] == 1 and ran["route"] == 1
    failed = Score.objects.get(trace_id=pks[0], evaluator="error", rule=mine)
    assert (failed.passed, failed.mode) == (False, "shadow")
    assert not Score.objects.filter(source="judge").exists(), "a shadow failure fired the failing_rule trigger"
    assert not QueueItem.objects.filter(queue=queue).exists(), "a shadow failure routed the trace"
    assert traces_route(pks) == 0


@pytest.mark.django_db
def test_the_same_rule_made_advisory_routes_and_triggers_as_before(project, scene):
    queue, mine = scene
    change = modes.rule_mode_set(rule=mine, mode="advisory", actor="tests")
    assert (change.from_mode, change.to_mode) == ("shadow", "advisory")
    pks = complete(rag_trace(project, error=True))

    pipeline.pipeline_run(trace_pks=pks)

    failed = Score.objects.get(trace_id=pks[0], evaluator="error", rule=mine)
    assert (failed.passed, failed.mode) == (False, "advisory")
    judged = Score.objects.get(source="judge")
    assert (judged.evaluator, judged.mode) == ("rubric", "advisory")
    item = QueueItem.objects.get(queue=queue)
    assert item.trace_id == pks[0] and item.reason == "failing rule error"


@pytest.mark.django_db
def test_a_shadow_judge_score_never_routes_on_its_value(project, judge):
    queue = make_queue(project, "low scores")
    routing_rule_create(queue=queue, kind="score_below", params={"evaluator": "rubric", "threshold": 0.5})
    conn = make_judge_connection(project, judge.base_url)
    shadow = eval_rule_create(project=project, name="shadow judge", evaluators=["rubric"], judge_connection_id=conn.pk)
    trace = rag_trace(project)
    span = Span.objects.get(trace=trace, kind="llm")
    score_record(trace=trace, span=span, evaluator="rubric", result=EvalResult(value=0.1, passed=False), rule=shadow,
                 source="judge", judge_model="judge-model")  # fmt: skip
    assert traces_route([trace.pk]) == 0
    modes.rule_mode_set(rule=shadow, mode="advisory")
    shadow.refresh_from_db()
    score_record(trace=trace, span=span, evaluator="rubric", result=EvalResult(value=0.1, passed=False), rule=shadow,
                 source="judge", judge_model="judge-model")  # fmt: skip
    assert Score.objects.get(trace=trace, evaluator="rubric").mode == "advisory"  # copied again when re-scored
    assert traces_route([trace.pk]) == 1


@pytest.mark.django_db
def test_the_batch_upsert_copies_each_evaluators_mode(project):
    """Enough scores for the COPY path on PostgreSQL (>= 200 in one batch); the mode travels with every row."""
    eval_rule_pause(rule=rules_for_project(project=project)[0], reason="only the user's rule scores here")
    everything = eval_rule_create(
        project=project, name="shadow copy of the built-ins", evaluators=list(BUILTIN_RULES),
        evaluator_modes={"pii": "blocking"},
    )  # fmt: skip
    pks = complete(*[rag_trace(project) for _ in range(30)])

    pipeline.pipeline_run(trace_pks=pks)

    mine = Score.objects.filter(rule=everything)
    assert mine.count() >= 200
    assert set(mine.exclude(evaluator="pii").values_list("mode", flat=True)) == {"shadow"}
    assert set(mine.filter(evaluator="pii").values_list("mode", flat=True)) == {"blocking"}
    written_back = Span.objects.get(trace_id=pks[0], kind="llm").eval_scores
    assert {s["mode"] for s in written_back} == {"shadow", "blocking"}


@pytest.mark.django_db
def test_a_shadow_rule_on_an_advisory_evaluator_never_takes_its_score_away(project):
    queue = make_queue(project, "flagged")
    routing_rule_create(queue=queue, kind="failing_rule")
    eval_rule_create(project=project, name="error again, in shadow", evaluators=["error"])
    pks = complete(rag_trace(project, error=True))

    pipeline.pipeline_run(trace_pks=pks)

    (score,) = Score.objects.filter(trace_id=pks[0], evaluator="error", passed=False)
    assert (score.rule.is_builtin, score.mode) == (True, "blocking")  # one score per target: the one that counts
    assert QueueItem.objects.filter(queue=queue, trace_id=pks[0]).exists()
