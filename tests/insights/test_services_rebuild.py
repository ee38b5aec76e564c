"""insights_rebuild (and its command): detection over every completed trace from scratch, in batches, giving
what trace-by-trace detection gives; statuses are kept, a fixed insight seen after its fix is regressed."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from insights import services
from insights.models import Finding, Insight
from tests.insights.stored import quiet_trace, sequential_trace

pytestmark = pytest.mark.django_db

FINDING_COLUMNS = ("trace_id", "signature", "detector", "message", "span_ids", "saving_ms", "seen_at", "endpoint")
INSIGHT_COLUMNS = (
    "signature",
    "count",
    "first_seen",
    "last_seen",
    "total_saving_ms",
    "endpoints",
    "message",
    "examples",
)


def snapshot():
    findings = sorted(Finding.objects.values_list(*FINDING_COLUMNS))
    insights = sorted(Insight.objects.values_list(*INSIGHT_COLUMNS))
    return findings, insights


@pytest.fixture
def traffic(project):
    now = time.time()
    traces = [sequential_trace(project, start=now - 3600 * i, first=2 + i, second=1 + i) for i in range(5)]
    traces += [sequential_trace(project, start=now - 100, service="billing-api"), quiet_trace(project)]
    traces.append(sequential_trace(project, complete=False))  # still in progress: not detected yet
    return traces


@pytest.mark.parametrize("copy_from_rows", [services.COPY_FROM_ROWS, 1], ids=["statements", "copy"])
def test_the_rebuild_in_small_batches_matches_trace_by_trace_detection(project, traffic, monkeypatch, copy_from_rows):
    """With copy_from_rows=1 every batch takes the COPY path on PostgreSQL, several times in one transaction."""
    monkeypatch.setattr(services, "COPY_FROM_ROWS", copy_from_rows)
    for trace in traffic:
        if trace.completed_at:
            services.trace_detect(trace_pk=trace.pk)
    incremental = snapshot()
    assert len(incremental[0]) == 6 and len(incremental[1]) == 2

    result = services.insights_rebuild(project=project, batch_size=3)

    assert snapshot() == incremental
    assert (result.traces, result.findings, result.insights) == (7, 6, 2)
    assert result.spans == 7 * 3 - 1  # the quiet trace has two spans


def test_it_is_idempotent_and_starts_from_a_clean_slate(project, traffic):
    services.insights_rebuild(project=project)
    first = snapshot()
    Finding.objects.filter(detector="sequential_execution").update(message="stale")  # made by an older detector
    Insight.objects.update(count=99)

    services.insights_rebuild(project=project)

    assert snapshot() == first


def test_statuses_survive_and_a_fix_followed_by_the_finding_is_a_regression(project, traffic):
    services.insights_rebuild(project=project)
    support = Insight.objects.get(service="support-api")
    billing = Insight.objects.get(service="billing-api")
    services.insight_set_status(insight=support, status="fixed", now=timezone.now() - timedelta(minutes=30))
    services.insight_set_status(insight=billing, status="dismissed")

    services.insights_rebuild(project=project)

    support.refresh_from_db()
    billing.refresh_from_db()
    assert support.status == "regressed"  # its newest trace started after the fix was marked
    assert billing.status == "dismissed" and billing.count == 1


def test_other_projects_are_left_alone(project, other_project_and_key, traffic):
    other, _ = other_project_and_key
    services.trace_detect(trace_pk=sequential_trace(other).pk)
    services.insights_rebuild(project=project)
    assert Finding.objects.filter(project=other).count() == 1
    assert Insight.objects.get(project=other).count == 1


def test_the_command_rebuilds_and_reports(project, traffic):
    out = StringIO()
    call_command("insights_rebuild", project="acme", stdout=out)
    assert out.getvalue().startswith("acme: 7 traces (20 spans) -> 6 findings in 2 insights, ")
    assert Finding.objects.count() == 6

    with pytest.raises(CommandError, match="no project 'nope'"):
        call_command("insights_rebuild", project="nope", stdout=StringIO())
