"""trace_detect: a completed trace's findings are stored once per (trace, signature) and aggregated into insights;
re-running changes nothing; a fixed insight that comes back is a regression."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from insights import services
from insights.detectors import Finding as Detected
from insights.models import Finding, Insight
from tests.base import make_raw_span
from tests.insights.stored import quiet_trace, sequential_trace
from traces.models import Span, Trace
from traces.services import spans_ingest

pytestmark = pytest.mark.django_db

MESSAGE = (
    'Root cause: sequential execution of "chat.completions"\n'
    "2 spans ran one after another. Total: 10.5s, slowest single: 5.7s. Running them concurrently would save 4.8s."
)


def calls_of(trace: Trace) -> list[Span]:
    return list(Span.objects.filter(trace=trace, kind="llm").order_by("start_time"))


def test_it_stores_the_sequential_finding_with_its_message_spans_and_fix(project):
    trace = sequential_trace(project)

    assert services.trace_detect(trace_pk=trace.pk) == 1

    finding = Finding.objects.get(trace=trace)
    assert finding.detector == "sequential_execution"
    assert finding.message == MESSAGE
    assert finding.span_ids == [s.span_id for s in calls_of(trace)]
    assert finding.operation == "chat.completions"
    assert finding.parent_operation == "POST /v1/answer"
    assert finding.endpoint == "POST /v1/answer"
    assert finding.service == "support-api"
    assert finding.saving_ms == pytest.approx(4800, abs=1)
    assert finding.seen_at == trace.start_time
    assert finding.fix["summary"] and finding.fix["snippets"][0]["before"] and finding.fix["snippets"][0]["after"]
    # The Python SDK's resource says the app is Python: the fix is a Python snippet.
    assert "asyncio" in finding.fix["snippets"][0]["after"] or "concurrent" in finding.fix["snippets"][0]["after"]

    insight = finding.insight
    assert (insight.project, insight.signature, insight.status) == (project, finding.signature, "open")
    assert (insight.count, insight.first_seen, insight.last_seen) == (1, trace.start_time, trace.start_time)
    assert insight.total_saving_ms == pytest.approx(finding.saving_ms)
    assert insight.endpoints == ["POST /v1/answer"]
    assert insight.examples == [
        {"trace_id": trace.trace_id, "seen_at": trace.start_time.isoformat(), "saving_ms": finding.saving_ms,
         "saving_usd": 0.0}
    ]  # fmt: skip
    assert (insight.title, insight.message, insight.fix) == (finding.title, finding.message, finding.fix)


def test_running_it_again_writes_nothing_and_changes_nothing(project, django_assert_num_queries):
    trace = sequential_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    before = list(Finding.objects.values())
    insight_before = Insight.objects.values().get()

    # The spans, the findings already stored: equal, so no transaction at all.
    with django_assert_num_queries(2):
        assert services.trace_detect(trace_pk=trace.pk) == 1

    assert list(Finding.objects.values()) == before
    assert Insight.objects.values().get() == insight_before


def test_a_trace_with_nothing_to_find_costs_two_queries(project, django_assert_num_queries):
    trace = quiet_trace(project)
    with django_assert_num_queries(2):
        assert services.trace_detect(trace_pk=trace.pk) == 0
    assert not Finding.objects.exists() and not Insight.objects.exists()


def test_a_new_finding_is_written_in_one_short_transaction(project, django_assert_max_num_queries):
    sequential_trace(project)  # the insight exists already: the usual case
    services.trace_detect(trace_pk=Trace.objects.get().pk)
    trace = sequential_trace(project)
    # spans, findings; then the transaction: lock the trace, findings again, lock the insights, upsert the
    # findings, update the insights (7), plus the savepoint pair the test's own transaction turns it into.
    with django_assert_max_num_queries(9):
        services.trace_detect(trace_pk=trace.pk)
    assert Insight.objects.get().count == 2


def test_findings_of_one_signature_across_traces_make_one_insight(project):
    now = time.time()
    early = sequential_trace(project, start=now - 3600, first=5.7, second=4.8)
    late = sequential_trace(project, start=now - 60, first=3.0, second=2.0)
    other_service = sequential_trace(project, start=now - 30, service="billing-api")
    for trace in (late, early, other_service):  # out of order: first/last seen follow the traces, not the runs
        services.trace_detect(trace_pk=trace.pk)

    insight = Insight.objects.get(service="support-api")
    assert insight.count == 2
    assert insight.total_saving_ms == pytest.approx(4800 + 2000, abs=2)
    assert (insight.first_seen, insight.last_seen) == (early.start_time, late.start_time)
    assert "would save 2.0s" in insight.message  # the latest trace's wording
    assert set(Finding.objects.filter(insight=insight).values_list("trace_id", flat=True)) == {early.pk, late.pk}
    assert [e["trace_id"] for e in insight.examples] == [late.trace_id, early.trace_id]  # newest first
    # Another service is another signature, so another insight.
    assert Insight.objects.get(service="billing-api").count == 1
    assert Insight.objects.count() == 2


def test_a_finding_that_goes_away_on_a_rerun_is_removed_and_uncounted(project):
    trace = sequential_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    insight = Insight.objects.get()

    # The second call is re-sent with its true start: it overlapped the first, so nothing was sequential.
    first, second = calls_of(trace)
    span = Span.objects.get(pk=second.pk)
    raw = make_raw_span(
        trace_id=trace.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=3,
        start=first.start_time.timestamp() + 0.1,
        duration=4.8,
        attributes=span.attributes,
        service="support-api",
    )
    spans_ingest(project=project, raws=[raw])

    assert services.trace_detect(trace_pk=trace.pk) == 0
    assert not Finding.objects.exists()
    insight.refresh_from_db()
    assert insight.count == 0 and insight.total_saving_ms == pytest.approx(0, abs=1e-6)
    assert insight.examples == []


def test_a_fixed_insight_seen_in_a_later_trace_is_a_regression(project):
    now = time.time()
    services.trace_detect(trace_pk=sequential_trace(project, start=now - 7200).pk)
    insight = Insight.objects.get()
    services.insight_set_status(insight=insight, status="fixed", now=timezone.now() - timedelta(minutes=30))

    # A trace that started before the fix was marked (settled late) is not a regression...
    services.trace_detect(trace_pk=sequential_trace(project, start=now - 3600).pk)
    insight.refresh_from_db()
    assert insight.status == "fixed" and insight.count == 2 and insight.regressed_at is None

    # ...one that started after it is.
    services.trace_detect(trace_pk=sequential_trace(project, start=now - 60).pk)
    insight.refresh_from_db()
    assert insight.status == "regressed" and insight.count == 3
    assert insight.regressed_at is not None and insight.fixed_at is not None


def test_a_dismissed_insight_stays_dismissed_but_keeps_counting(project):
    services.trace_detect(trace_pk=sequential_trace(project).pk)
    services.insight_set_status(insight=Insight.objects.get(), status="dismissed")
    services.trace_detect(trace_pk=sequential_trace(project).pk)
    insight = Insight.objects.get()
    assert (insight.status, insight.count) == ("dismissed", 2)


def test_peekr_internal_traces_are_not_inspected(project):
    trace = sequential_trace(project)
    Span.objects.filter(trace=trace).update(is_internal=True)
    assert services.trace_detect(trace_pk=trace.pk) == 0
    assert not Finding.objects.exists()


def test_a_trace_deleted_before_detection_is_nothing(project):
    trace = sequential_trace(project)
    pk = trace.pk
    trace.delete()
    assert services.trace_detect(trace_pk=pk) == 0


def test_findings_of_one_signature_in_one_trace_are_merged():
    def found(severity, span_ids, saving, message):
        return Detected(
            detector="sequential_execution",
            severity=severity,
            title='Sequential execution of "embeddings"',
            message=message,
            span_ids=span_ids,
            operation="embeddings",
            parent_operation="ingest",
            service="worker",
            saving_ms=saving,
            details={"count": len(span_ids)},
        )

    merged = services.merge_by_signature(
        [found("critical", ["a", "b"], 12_000, "first group"), found("warning", ["c", "d", "b"], 800, "second group")]
    )

    assert len(merged) == 1
    lead = merged[0]
    assert lead.severity == "critical"
    assert lead.span_ids == ["a", "b", "c", "d"]
    assert lead.saving_ms == 12_800
    assert lead.message == "first group\n\nsecond group"
    assert lead.details["count"] == 2
    assert lead.details["merged"] == [
        {
            "severity": "warning",
            "span_ids": ["c", "d", "b"],
            "saving_ms": 800,
            "saving_usd": 0.0,
            "details": {"count": 3},
        }
    ]
