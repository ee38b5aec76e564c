"""PostgreSQL: traces_span is partitioned by week of start_time. Partitions are created ahead (the retention job,
daily from beat); a span outside every partition lands in the default one rather than failing its batch, and is
moved into its partition when that is created; a re-sent span whose start time moves to another week moves with
it (one row, same id)."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.base import make_raw_span
from traces import partitions
from traces.models import Span
from traces.retention import DEFAULT_PARTITION, PARTITIONS_AHEAD, partition_bounds, partition_name
from traces.retention_run import retention_run
from traces.services import spans_ingest


@pytest.fixture(autouse=True)
def postgresql_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("partitions are PostgreSQL's")


def table_of(span_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM traces_span WHERE span_id = %s", [span_id])
        return [r[0] for r in cursor.fetchall()][0]


@pytest.mark.django_db
def test_the_span_table_is_partitioned_with_the_current_week_ahead_and_a_default(project):
    assert partitions.is_partitioned()
    now = timezone.now()
    names = [p[0] for p in partitions.partitions_list()]
    for k in range(PARTITIONS_AHEAD + 1):
        assert partition_name(partition_bounds(now + timedelta(days=7 * k))[0]) in names
    raw = make_raw_span(name="now")
    spans_ingest(project=project, raws=[raw])
    assert table_of(raw.span_id) == partition_name(partition_bounds(now)[0])


@pytest.mark.django_db
def test_the_job_creates_partitions_ahead_and_is_idempotent(project):
    later = timezone.now() + timedelta(days=70)
    run = retention_run(now=later, pause=0)
    created = [e["what"] for e in run.removed if e["step"] == "partition" and e["what"].startswith("created")]
    assert len(created) >= PARTITIONS_AHEAD
    wanted = partition_name(partition_bounds(later + timedelta(days=7 * PARTITIONS_AHEAD))[0])
    assert wanted in [p[0] for p in partitions.partitions_list()]
    again = retention_run(now=later, pause=0)
    assert not [e for e in again.removed if e["step"] == "partition"]


@pytest.mark.django_db
def test_a_span_outside_every_partition_goes_to_the_default_and_moves_into_its_partition_later(project):
    far = datetime.now(UTC) + timedelta(days=200)
    raw = make_raw_span(name="clock ahead", start=far.timestamp())
    ok = make_raw_span(name="in range")
    result = spans_ingest(project=project, raws=[raw, ok])  # one COPY: the batch is not failed by the far one
    assert result.accepted == 2
    assert table_of(raw.span_id) == DEFAULT_PARTITION

    retention_run(now=far - timedelta(days=7), pause=0)  # its week is now one of those created ahead

    assert table_of(raw.span_id) == partition_name(partition_bounds(far)[0])
    assert Span.objects.filter(project=project).count() == 2


@pytest.mark.django_db
def test_a_span_re_sent_into_another_week_moves_to_that_partition(project):
    lo, _ = partition_bounds(timezone.now())
    partitions.partitions_ensure(timezone.now(), start=lo - timedelta(days=7))
    before = (lo - timedelta(hours=1)).timestamp()
    first = make_raw_span(name="chat", start=before)
    spans_ingest(project=project, raws=[first])
    row = Span.objects.get(span_id=first.span_id)
    assert table_of(first.span_id) == partition_name(lo - timedelta(days=7))

    again = make_raw_span(trace_id=first.trace_id, span_id=first.span_id, name="chat", start=before + 7200)
    spans_ingest(project=project, raws=[again])

    assert list(Span.objects.filter(span_id=first.span_id).values_list("pk", flat=True)) == [row.pk]
    assert table_of(first.span_id) == partition_name(lo)
    assert time.time() > before  # the test's times are real ones
