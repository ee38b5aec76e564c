import pytest

from annotations import services
from annotations.models import QueueItem, RoutingRule
from annotations.tasks import route_trace
from evals.evaluators.types import EvalResult
from evals.models import Feedback, Score
from evals.services import feedback_record, score_record
from tests.annotations.helpers import make_queue
from tests.base import make_trace
from traces.models import Span, Trace


def latest_trace(project) -> Trace:
    return Trace.objects.filter(project=project).order_by("-pk").first()


def one_trace(project) -> Trace:
    make_trace(project, n_llm=1)
    return latest_trace(project)


@pytest.mark.django_db
def test_a_failing_rule_routes_the_trace_with_its_reason_and_span(project):
    queue = make_queue(project)
    services.routing_rule_create(queue=queue, kind="failing_rule")
    trace = one_trace(project)
    span = Span.objects.filter(trace=trace, kind="llm").first()
    score_record(trace=trace, span=span, evaluator="pii", result=EvalResult(value=0.0, passed=False))
    created = services.trace_route(trace_pk=trace.pk)
    assert len(created) == 1
    item = QueueItem.objects.get(queue=queue)
    assert (item.trace_id, item.span_id, item.reason) == (trace.pk, span.pk, "failing rule pii")


@pytest.mark.django_db
def test_routing_is_idempotent(project):
    queue = make_queue(project)
    services.routing_rule_create(queue=queue, kind="failing_rule")
    services.routing_rule_create(queue=queue, kind="sample", params={"rate": 1.0})
    trace = one_trace(project)
    score_record(trace=trace, span=None, evaluator="error", result=EvalResult(value=0.0, passed=False))
    assert len(services.trace_route(trace_pk=trace.pk)) == 1
    assert services.trace_route(trace_pk=trace.pk) == []
    assert route_trace.apply(args=[trace.pk]).get() == 0
    assert QueueItem.objects.filter(queue=queue).count() == 1


@pytest.mark.django_db
def test_a_passing_trace_is_not_routed_by_a_failing_rule(project):
    queue = make_queue(project)
    services.routing_rule_create(queue=queue, kind="failing_rule", params={"evaluator": "pii"})
    trace = one_trace(project)
    score_record(trace=trace, span=None, evaluator="pii", result=EvalResult(value=1.0, passed=True))
    score_record(trace=trace, span=None, evaluator="json_valid", result=EvalResult(value=0.0, passed=False))
    assert services.trace_route(trace_pk=trace.pk) == []


@pytest.mark.django_db
def test_score_below_and_borderline_band(project):
    low, band = make_queue(project, "low"), make_queue(project, "borderline")
    services.routing_rule_create(queue=low, kind="score_below", params={"evaluator": "faithfulness", "threshold": 0.5})
    services.routing_rule_create(
        queue=band, kind="score_band", params={"evaluator": "faithfulness", "low": 0.4, "high": 0.6}
    )
    values = {}
    for value in (0.3, 0.55, 0.9):
        trace = one_trace(project)
        score_record(trace=trace, span=None, evaluator="faithfulness", source=Score.Source.JUDGE,
                     result=EvalResult(value=value, passed=value >= 0.5))  # fmt: skip
        services.trace_route(trace_pk=trace.pk)
        values[value] = trace.pk
    assert set(QueueItem.objects.filter(queue=low).values_list("trace_id", flat=True)) == {values[0.3]}
    assert set(QueueItem.objects.filter(queue=band).values_list("trace_id", flat=True)) == {values[0.55]}
    assert QueueItem.objects.get(queue=low).reason == "faithfulness 0.30 < 0.5"
    assert QueueItem.objects.get(queue=band).reason == "faithfulness 0.55 borderline [0.4, 0.6]"


@pytest.mark.django_db
def test_thumbs_down_and_escalation(project):
    down, esc = make_queue(project, "down"), make_queue(project, "esc")
    services.routing_rule_create(queue=down, kind="thumbs_down")
    services.routing_rule_create(queue=esc, kind="escalation")
    t1, t2 = one_trace(project), one_trace(project)
    feedback_record(trace=t1, kind=Feedback.Kind.THUMBS_DOWN)
    feedback_record(trace=t2, kind=Feedback.Kind.ESCALATION)
    services.trace_route(trace_pk=t1.pk)
    services.trace_route(trace_pk=t2.pk)
    assert list(QueueItem.objects.filter(queue=down).values_list("trace_id", "reason")) == [(t1.pk, "thumbs-down")]
    assert list(QueueItem.objects.filter(queue=esc).values_list("trace_id", "reason")) == [(t2.pk, "escalation")]


@pytest.mark.django_db
def test_random_sample_of_normal_traffic_is_deterministic(project):
    every, none = make_queue(project, "all"), make_queue(project, "none")
    services.routing_rule_create(queue=every, kind="sample", params={"rate": 1.0})
    services.routing_rule_create(queue=none, kind="sample", params={"rate": 0.0})
    trace = one_trace(project)
    services.trace_route(trace_pk=trace.pk)
    assert QueueItem.objects.get(queue=every).reason == "random sample (100%)"
    assert not QueueItem.objects.filter(queue=none).exists()


@pytest.mark.django_db
def test_a_detector_finding_routes_the_trace(project):
    from insights.detectors import detect_all, span_view_from_row

    queue = make_queue(project)
    services.routing_rule_create(queue=queue, kind="finding")
    make_trace(project, n_llm=3)  # three identical chat calls one after the other
    trace = latest_trace(project)
    rows = Span.objects.filter(trace=trace).values()
    findings = detect_all(span_view_from_row(r) for r in rows)
    assert findings  # the fixture is meant to show a pathology
    services.trace_route(trace_pk=trace.pk)
    assert QueueItem.objects.get(queue=queue).reason.startswith(f"finding {findings[0].detector}")


@pytest.mark.django_db
def test_a_finding_rule_for_another_detector_does_not_fire(project):
    queue = make_queue(project)
    services.routing_rule_create(queue=queue, kind="finding", params={"detector": "no_such_detector"})
    make_trace(project, n_llm=3)
    assert services.trace_route(trace_pk=latest_trace(project).pk) == []


@pytest.mark.django_db
def test_manual_bulk_add_is_idempotent_and_keeps_to_the_project(project, other_project_and_key):
    queue = make_queue(project)
    mine = [one_trace(project).pk for _ in range(3)]
    make_trace(other_project_and_key[0], n_llm=1)
    theirs = latest_trace(other_project_and_key[0]).pk
    added = services.queue_items_add(queue=queue, trace_pks=mine[:2] + [theirs])
    assert sorted(i.trace_id for i in added) == sorted(mine[:2])
    again = services.queue_items_add(queue=queue, trace_pks=mine)
    assert [i.trace_id for i in again] == [mine[2]]
    assert sorted(QueueItem.objects.filter(queue=queue).values_list("trace_id", flat=True)) == sorted(mine)
    assert set(QueueItem.objects.filter(queue=queue).values_list("reason", flat=True)) == {"manual"}


@pytest.mark.django_db
def test_invalid_routing_rules_are_refused_with_a_reason(project):
    queue = make_queue(project)
    with pytest.raises(services.ReviewInvalid, match="needs an evaluator"):
        services.routing_rule_create(queue=queue, kind="score_below", params={"threshold": 0.5})
    with pytest.raises(services.ReviewInvalid, match="rate between 0 and 1"):
        services.routing_rule_create(queue=queue, kind="sample", params={"rate": 2})
    with pytest.raises(services.ReviewInvalid, match="unknown routing kind"):
        services.routing_rule_create(queue=queue, kind="nope")
    assert not RoutingRule.objects.exists()


def test_routing_runs_after_evaluation_detection_and_signals():
    from traces.pipeline import STAGES

    names = [s.name for s in STAGES]
    assert names.index("route") > max(names.index("evaluate"), names.index("detect"), names.index("signals"))
    assert next(s for s in STAGES if s.name == "route").handler is services.traces_route


@pytest.mark.django_db
def test_a_thumbs_down_after_routing_ran_still_routes_the_trace(project, django_capture_on_commit_callbacks):
    from peekr_web.celery import app

    queue = make_queue(project)
    services.routing_rule_create(queue=queue, kind="thumbs_down")
    trace = one_trace(project)
    assert services.trace_route(trace_pk=trace.pk) == []  # routing ran at completion: nothing to route yet

    app.conf.task_always_eager = True  # run the enqueued route_trace inline
    try:
        with django_capture_on_commit_callbacks(execute=True):
            feedback_record(trace=trace, kind="thumbs_down")
    finally:
        app.conf.task_always_eager = False
    assert QueueItem.objects.get(queue=queue).trace_id == trace.pk
