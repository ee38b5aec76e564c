"""A judge score that arrives (or changes) after the trace rolled up moves the trace's share of the mean: the
hook queues the trace, beat drains the queue, and the trace still counts once."""

import pytest
from django.utils import timezone

from evals.models import Score
from metrics.accumulators import metric_value
from metrics.models import Rollup, RollupPending
from metrics.services import on_judge_scored, rollup_pending_drain, traces_rollup
from tests.base import make_production_trace
from tests.metrics.helpers import hour_ago
from traces.models import Trace


def _judge_score(trace, value: float) -> Score:
    return Score.objects.update_or_create(
        target_key=f"trace:{trace.pk}",
        evaluator="faithfulness",
        rubric_version="1",
        judge_model="judge",
        defaults={"project": trace.project, "trace": trace, "source": "judge", "status": "done", "value": value,
                  "passed": value >= 0.7},
    )[0]  # fmt: skip


@pytest.mark.django_db
def test_a_rescored_trace_moves_its_contribution_instead_of_doubling_it(project):
    other = make_production_trace(project, start=hour_ago(2))
    trace = make_production_trace(project, start=hour_ago(2))
    Trace.objects.filter(pk__in=[other.pk, trace.pk]).update(completed_at=timezone.now())
    _judge_score(other, 0.9)
    _judge_score(trace, 0.3)
    traces_rollup([other.pk, trace.pk])
    row = Rollup.objects.get(project=project, dim="all")
    assert metric_value("score:faithfulness", row.data) == (pytest.approx(0.6), 2)
    assert metric_value("pass:faithfulness", row.data) == (0.5, 2)

    _judge_score(trace, 0.7)  # judged again
    on_judge_scored(trace.pk)
    on_judge_scored(trace.pk)  # twice: one queued row
    assert RollupPending.objects.count() == 1
    assert rollup_pending_drain() == 1

    row.refresh_from_db()
    assert row.traces == 2
    assert metric_value("score:faithfulness", row.data) == (pytest.approx(0.8), 2)
    assert metric_value("pass:faithfulness", row.data) == (1.0, 2)
    assert RollupPending.objects.count() == 0


@pytest.mark.django_db
def test_feedback_and_human_scores_are_not_evaluator_scores(project):
    trace = make_production_trace(project, start=hour_ago(1))
    Score.objects.create(project=project, trace=trace, target_key=f"trace:{trace.pk}", evaluator="feedback:x:1",
                         source="feedback", status="done", value=0.0)  # fmt: skip
    traces_rollup([trace.pk])
    data = Rollup.objects.get(project=project, dim="all").data
    assert not [k for k in data if k.startswith(("score:", "pass:"))]


@pytest.mark.django_db
def test_a_queued_trace_still_open_is_left_to_the_pipeline(project):
    trace = make_production_trace(project, start=hour_ago(1))
    on_judge_scored(trace.pk)
    assert rollup_pending_drain() == 0
    assert not Rollup.objects.filter(project=project).exists()
