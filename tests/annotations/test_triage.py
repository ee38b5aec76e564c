import time
from datetime import timedelta

import pytest
from django.utils import timezone

from annotations import selectors, services
from evals.evaluators.types import EvalResult
from evals.models import Score
from evals.services import score_record
from tests.annotations.helpers import make_queue
from tests.base import make_trace
from traces.models import Trace


def scored_trace(project, results, *, days_ago: float = 1):
    make_trace(project, n_llm=1, start=time.time() - days_ago * 86400)
    trace = Trace.objects.filter(project=project).order_by("-pk").first()
    for n, (value, passed) in enumerate(results):
        score_record(trace=trace, span=None, evaluator=f"e{n}", result=EvalResult(value=value, passed=passed))
    return trace


@pytest.mark.django_db
def test_the_weeks_30_worst_traces_lowest_mean_first_with_failures_as_zero(project):
    failed_high_value = scored_trace(project, [(0.9, False), (1.0, True)])  # mean (0 + 1) / 2 = 0.5
    low = scored_trace(project, [(0.2, None), (0.4, None)])  # 0.3
    good = scored_trace(project, [(None, True)])  # 1.0
    scored_trace(project, [(0.0, False)], days_ago=9)  # last week's: left out
    for _ in range(30):
        scored_trace(project, [(0.6, True)])
    rows = selectors.weekly_triage(project=project)["traces"]
    assert len(rows) == 30
    assert [r["trace"].pk for r in rows[:2]] == [low.pk, failed_high_value.pk]
    assert rows[0]["mean_score"] == pytest.approx(0.3) and rows[1]["failed"] == 1
    assert good.pk not in {r["trace"].pk for r in rows}


@pytest.mark.django_db
def test_triage_rows_say_which_queues_hold_them_and_list_the_targets(project):
    queue = make_queue(project)
    golden = services.golden_set_create(project=project, name="gs")
    trace = scored_trace(project, [(0.0, False)])
    services.queue_items_add(queue=queue, trace_pks=[trace.pk])
    Score.objects.create(project=project, trace=trace, target_key="x", evaluator="pending-judge")  # not done: ignored
    data = selectors.weekly_triage(project=project, now=timezone.now() + timedelta(minutes=1))
    assert [(r["trace"].pk, r["queue_ids"], r["scores"]) for r in data["traces"]] == [(trace.pk, [queue.pk], 1)]
    assert data["queues"] == [queue] and data["golden_sets"] == [golden]


@pytest.mark.django_db
def test_perfect_traces_never_fill_the_worst_list(project):
    bad = scored_trace(project, [(0.5, None)])
    for _ in range(5):
        scored_trace(project, [(1.0, True), (None, True)])  # nothing wrong: mean 1.00, no failure
    rows = selectors.weekly_triage(project=project)["traces"]
    assert [r["trace"].pk for r in rows] == [bad.pk]
