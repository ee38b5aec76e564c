"""Retention with the clock moved forward: content goes at 30 days, flagged traces keep theirs to 90, traces, scores,
findings and rollups go at 365. On PostgreSQL the spans go with their partition, on SQLite by batched deletes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from evals.models import Score
from insights.models import Finding
from metrics.models import Rollup
from signals.models import Signal
from tests.base import make_flag, make_trace
from traces import partitions
from traces.models import RetentionRun, Span, Trace
from traces.retention import EXPIRED_MARKER
from traces.retention_run import retention_run

FLAGS = ("score", "finding", "signal", "queue")


def stored(project, trace_id) -> Trace:
    return Trace.objects.get(project=project, trace_id=trace_id)


def has_content(trace: Trace) -> bool:
    spans = list(Span.objects.filter(trace=trace))
    llm = [s for s in spans if s.kind == "llm"]
    return bool(llm) and all(s.input_messages and s.output_text and EXPIRED_MARKER not in s.attributes for s in llm)


def run_at(now):
    return retention_run(now=now, pause=0)


@pytest.mark.django_db
def test_content_goes_at_30_days_flagged_traces_keep_it_to_90_and_records_go_at_365(project):
    t0 = timezone.now()
    plain = stored(project, make_trace(project)[0])
    praised = stored(project, make_trace(project)[0])
    Signal.objects.create(project=project, trace=praised, kind="thumbs_up", source="api", key="up")
    flagged = {}
    for how in FLAGS:
        flagged[how] = stored(project, make_trace(project)[0])
        make_flag(flagged[how], how)
    Score.objects.create(project=project, trace=plain, target_key=f"trace:{plain.pk}", evaluator="json_valid",
                         status="done", value=1.0, passed=True)  # fmt: skip
    Rollup.objects.create(project=project, hour=t0.replace(minute=0, second=0, microsecond=0), dim="all", traces=1)
    n_spans = Span.objects.filter(project=project).count()
    assert n_spans == 6 * 3

    run_at(t0 + timedelta(days=29))
    assert all(has_content(t) for t in [plain, praised, *flagged.values()])

    run_at(t0 + timedelta(days=31))
    for trace in (plain, praised):  # a thumbs up is no reason to keep content
        trace.refresh_from_db()
        assert trace.content_expired_at == t0 + timedelta(days=31)
        assert (trace.input_preview, trace.output_preview) == ("", "")
        spans = list(Span.objects.filter(trace=trace).order_by("start_time"))
        assert len(spans) == 3 and trace.span_count == 3  # the structure stays: names, times, tokens
        assert [s.name for s in spans] == ["answer", "chat gpt-4o-mini", "chat gpt-4o-mini"]
        assert all(s.duration_ms and s.start_time for s in spans)
        assert spans[1].input_tokens == 42 and spans[1].model == "gpt-4o-mini"
        for s in spans:
            assert (s.input_text, s.output_text, s.input_messages, s.output_messages) == ("", "", [], [])
            assert (s.documents, s.tool_arguments, s.tool_result, s.events) == ([], "", "", [])
            assert list(s.attributes) == [EXPIRED_MARKER]
    for how, trace in flagged.items():
        trace.refresh_from_db()
        assert has_content(trace), how
        assert trace.content_expired_at is None
    assert Score.objects.filter(trace=plain).exists()

    run_at(t0 + timedelta(days=91))
    for trace in flagged.values():
        trace.refresh_from_db()
        assert not has_content(trace) and trace.content_expired_at == t0 + timedelta(days=91)
    assert Score.objects.filter(project=project).count() == 2
    assert Finding.objects.filter(project=project).count() == 1
    assert Trace.objects.filter(project=project).count() == 6

    run_at(t0 + timedelta(days=364))
    assert Trace.objects.filter(project=project).count() == 6
    assert Rollup.objects.filter(project=project).count() == 1

    # A week past the year: the whole partition holding these spans is older than the cutoff.
    run = run_at(t0 + timedelta(days=373))
    assert Trace.objects.filter(project=project).count() == 0
    assert Span.objects.filter(project=project).count() == 0
    assert Score.objects.filter(project=project).count() == 0
    assert Finding.objects.filter(project=project).count() == 0
    assert Signal.objects.filter(project=project).count() == 0
    assert Rollup.objects.filter(project=project).count() == 0
    steps = {(e["step"], e.get("project")): e for e in run.removed}
    assert steps[("records:traces", project.pk)]["rows"] == 6
    if connection.vendor == "postgresql":
        dropped = [e for e in run.removed if e["step"] == "partition" and e["what"].startswith("dropped")]
        name = partitions_holding(t0)
        assert any(e["what"].startswith(f"dropped {name} ") and e["rows"] == n_spans for e in dropped), run.removed
        assert name not in [p[0] for p in partitions.partitions_list()]
        assert ("records:spans", project.pk) not in steps  # none left to delete one by one
    else:
        assert steps[("records:spans", project.pk)]["rows"] == n_spans
    assert RetentionRun.objects.filter(status="done").count() == 5


def partitions_holding(at) -> str:
    from traces.retention import partition_bounds, partition_name

    return partition_name(partition_bounds(at)[0])
