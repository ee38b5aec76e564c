"""The after-completion pipeline: registered stages run in order over a batch, each marks what it processed, a
failing trace costs only itself, and the sweep finds what a lost message left behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import QueueItem
from annotations.services import routing_rule_create
from evals.models import Score
from insights.models import Finding
from tests.annotations.helpers import make_queue
from tests.base import make_raw_span, make_trace
from tests.insights.stored import sequential_trace
from traces import pipeline
from traces.models import Span, Trace
from traces.services import spans_ingest, traces_settle


def complete(*traces: Trace) -> list[int]:
    pks = [t.pk for t in traces]
    Trace.objects.filter(pk__in=pks).update(completed_at=timezone.now())
    return pks


@pytest.mark.django_db
def test_a_batch_goes_through_every_stage_and_is_marked_processed(project):
    queue = make_queue(project, "slow calls")
    routing_rule_create(queue=queue, kind="finding", params={"detector": "sequential_execution"})
    pks = complete(*[sequential_trace(project) for _ in range(3)])

    ran = pipeline.pipeline_run(trace_pks=pks)

    assert ran == {"signals": 3, "evaluate": 3, "detect": 3, "route": 3, "rollup": 3}
    for trace in Trace.objects.filter(pk__in=pks):
        assert trace.stages_done == pipeline.all_stages_mask() and trace.processed_at is not None
    assert Score.objects.filter(trace_id__in=pks, source="rule").values("trace").distinct().count() == 3
    assert Finding.objects.filter(trace_id__in=pks, detector="sequential_execution").count() == 3
    assert QueueItem.objects.filter(queue=queue, trace_id__in=pks).count() == 3, "routing read this run's findings"


@pytest.mark.django_db
def test_running_a_batch_again_changes_nothing(project):
    """A batch big enough for the COPY upserts on PostgreSQL (hundreds of scores), run again."""
    from evals.services import COPY_FROM_ROWS

    pks = complete(*[sequential_trace(project) for _ in range(25)])
    pipeline.pipeline_run(trace_pks=pks)
    scores, findings = Score.objects.count(), Finding.objects.count()
    assert scores >= COPY_FROM_ROWS and findings == 25
    spans = {s.pk: s.eval_scores for s in Span.objects.filter(trace_id__in=pks)}
    assert {pk: len(v) for pk, v in spans.items()} == {pk: Score.objects.filter(span_id=pk).count() for pk in spans}
    assert sum(map(len, spans.values())) > 0, "every span carries its scores (written back)"

    assert pipeline.pipeline_run(trace_pks=pks) == {}, "every stage is marked done"
    Trace.objects.filter(pk__in=pks).update(stages_done=0, processed_at=None)  # a redelivered message
    pipeline.pipeline_run(trace_pks=pks)
    assert (Score.objects.count(), Finding.objects.count()) == (scores, findings)


@pytest.mark.django_db
def test_a_trace_that_breaks_a_stage_costs_only_itself(project, monkeypatch):
    good, bad, other = (sequential_trace(project) for _ in range(3))
    pks = complete(good, bad, other)
    seen: list[list[int]] = []

    def fragile(trace_pks):
        seen.append(list(trace_pks))
        if bad.pk in trace_pks:
            raise ValueError("a detector bug")

    stages = [
        pipeline.Stage(name="first", bit=1, order=1, handler=fragile),
        pipeline.Stage(name="second", bit=2, order=2, handler=seen.append),
    ]
    monkeypatch.setattr(pipeline, "STAGES", stages)

    pipeline.pipeline_run(trace_pks=pks)

    done = dict(Trace.objects.filter(pk__in=pks).values_list("pk", "stages_done"))
    assert done == {good.pk: 3, bad.pk: 0, other.pk: 3}
    assert seen[-1] == sorted([good.pk, other.pk]), "a later stage waits for the earlier ones"
    assert Trace.objects.get(pk=bad.pk).processed_at is None


@pytest.mark.django_db
def test_the_sweep_finds_completed_traces_a_stage_never_processed(project, settings):
    settings.PEEKR_PIPELINE_SWEEP_AFTER_SECONDS = 60
    lost, recent, done = (Trace.objects.get(trace_id=make_trace(project)[0]) for _ in range(3))
    now = timezone.now()
    Trace.objects.filter(pk__in=[lost.pk, done.pk]).update(completed_at=now - timedelta(minutes=5))
    Trace.objects.filter(pk=recent.pk).update(completed_at=now)
    Trace.objects.filter(pk=done.pk).update(processed_at=now, stages_done=pipeline.all_stages_mask())

    assert pipeline.traces_to_sweep(now=now) == [lost.pk]
    for _ in range(pipeline.PIPELINE_MAX_ATTEMPTS - 1):
        pipeline.traces_to_sweep(now=now)
    assert pipeline.traces_to_sweep(now=now) == [], "given up after PIPELINE_MAX_ATTEMPTS: reported as failed"


@pytest.mark.django_db
def test_a_late_span_reopens_the_trace_for_the_pipeline(project, settings):
    settings.PEEKR_TRACE_QUIET_SECONDS = 0
    trace = sequential_trace(project)
    pipeline.pipeline_run(trace_pks=complete(trace))

    spans_ingest(project=project, raws=[make_raw_span(trace_id=trace.trace_id, name="late tool")])
    trace.refresh_from_db()
    assert (trace.completed_at, trace.stages_done, trace.processed_at) == (None, 0, None)


@pytest.mark.django_db
def test_settling_a_batch_completes_only_the_quiet_traces(project, settings):
    settings.PEEKR_TRACE_QUIET_SECONDS = 5
    quiet, busy = (Trace.objects.get(trace_id=make_trace(project)[0]) for _ in range(2))
    now = timezone.now()
    Trace.objects.filter(pk=quiet.pk).update(last_span_at=now - timedelta(seconds=10))
    Trace.objects.filter(pk=busy.pk).update(last_span_at=now - timedelta(seconds=1))

    settled = traces_settle(trace_pks=[quiet.pk, busy.pk], now=now)

    assert settled.completed == [quiet.pk]
    assert settled.waits == {busy.pk: pytest.approx(4.0)}
    assert Trace.objects.get(pk=busy.pk).completed_at is None


@pytest.mark.django_db
def test_peekrs_own_traces_are_processed_without_running_a_stage(project, monkeypatch):
    own = Trace.objects.get(trace_id=make_trace(project)[0])
    Trace.objects.filter(pk=own.pk).update(is_internal=True)
    ran: list = []
    monkeypatch.setattr(pipeline, "STAGES", [pipeline.Stage(name="only", bit=1, order=1, handler=ran.append)])

    pipeline.pipeline_run(trace_pks=complete(own))

    own.refresh_from_db()
    assert ran == [] and own.processed_at is not None and own.stages_done == 1
