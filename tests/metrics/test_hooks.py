"""Judge scores, feedback and signals that arrive later queue their traces; a task-completed signal queues its
whole session (its cost per successful task changes)."""

import pytest
from django.utils import timezone

from evals import judging as eval_judging
from evals import services as eval_services
from metrics.models import Rollup, RollupPending
from metrics.selectors import metric_window
from metrics.services import on_feedback, on_judge_scored, on_signals, rollup_pending_drain, traces_rollup
from signals.models import Signal
from tests.base import make_production_trace
from tests.metrics.helpers import NOW, hour_ago
from traces.models import Trace


@pytest.mark.django_db
def test_the_hooks_are_registered():
    assert on_feedback in eval_services.FEEDBACK_HOOKS
    assert on_judge_scored in eval_judging.JUDGE_SCORED_HOOKS
    try:
        from signals.services import SIGNAL_HOOKS
    except ImportError:
        pytest.skip("signals.services.SIGNAL_HOOKS is not there yet")
    assert on_signals in SIGNAL_HOOKS


@pytest.mark.django_db
def test_a_task_completed_signal_recomputes_the_whole_session(project):
    session = [make_production_trace(project, start=hour_ago(h), session_id="s1") for h in (3, 2)]
    alone = make_production_trace(project, start=hour_ago(2), session_id="s2")
    pks = [t.pk for t in [*session, alone]]
    Trace.objects.filter(pk__in=pks).update(completed_at=timezone.now())
    traces_rollup(pks)
    window = {"start": NOW - timezone.timedelta(hours=6), "end": NOW}
    assert metric_window(project=project, metric="cost_per_successful_task", **window).n == 0

    Signal.objects.create(project=project, trace=session[1], kind="task_completed", source="api", key="k",
                          session_id="s1")  # fmt: skip
    on_signals([session[1].pk])
    assert set(RollupPending.objects.values_list("trace_id", flat=True)) == {session[0].pk, session[1].pk}
    rollup_pending_drain()

    task = metric_window(project=project, metric="cost_per_successful_task", **window)
    assert task.n == 1 and task.value == pytest.approx(session[0].cost + session[1].cost)
    assert metric_window(project=project, metric="task_completed_rate", **window).value == pytest.approx(1 / 3)
    assert Rollup.objects.get(project=project, dim="all", hour=NOW - timezone.timedelta(hours=2)).traces == 2


@pytest.mark.django_db
def test_feedback_recorded_through_evals_queues_the_trace(django_capture_on_commit_callbacks, project):
    trace = make_production_trace(project, start=hour_ago(1))
    with django_capture_on_commit_callbacks(execute=True):
        eval_services.feedback_record(trace=trace, kind="thumbs_up")
    assert RollupPending.objects.filter(trace=trace).exists()
