"""A one-hour dip never pages: the 24 h mean stays within, the last hour is off, and the worst traces of that
hour go to the "Monitor review" queue (once an hour, however many evaluations)."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import services
from alerts.models import Alert, Monitor
from annotations.models import Queue, QueueItem
from tests.base import make_contribution, make_rollups, make_trace, steady_hours
from traces.models import Trace

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 10, 12, tzinfo=UTC)
METRIC = "score:faithfulness"


def test_a_one_hour_dip_goes_to_review_and_never_pages(project):
    make_rollups(project, METRIC, steady_hours(END))
    dip = END - timedelta(hours=1)
    make_rollups(project, METRIC, {dip: [0.5] * 20})
    # Three traces of the dip hour, the two worst of them well under the others.
    traces = [Trace.objects.get(project=project, trace_id=make_trace(project, n_llm=0)[0]) for _ in range(3)]
    for trace, value in zip(traces, (0.1, 0.2, 0.9), strict=True):
        make_contribution(trace, hour=dip, metric=METRIC, value=value)
    monitor = Monitor.objects.get(project=project, metric=METRIC)

    for minute in range(0, 60, 5):
        services.monitors_evaluate(now=END + timedelta(minutes=minute), project=project)
        monitor.refresh_from_db()
        assert monitor.last_verdict == "review", monitor.last_detail
        assert monitor.consecutive == 0
    assert "the last hour is" in monitor.last_detail
    assert not Alert.objects.exists()
    queue = Queue.objects.get(project=project, name=services.REVIEW_QUEUE)
    items = list(QueueItem.objects.filter(queue=queue).order_by("trace_id"))
    assert [i.trace_id for i in items] == sorted(t.pk for t in traces)
    assert items[0].reason.startswith("monitor Faithfulness: the last hour is")
    assert monitor.last_review_at == END  # routed once, on the first evaluation of the hour

    # Once the hour is behind, the same 24 h mean passes.
    services.monitors_evaluate(now=END + timedelta(minutes=70), project=project)
    monitor.refresh_from_db()
    assert monitor.last_verdict == "pass"
