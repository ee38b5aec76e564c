"""A late span that moves a trace's start into another hour moves its whole contribution there, once."""

from datetime import timedelta

import pytest

from metrics.models import Rollup, TraceContribution, UserCost
from metrics.services import traces_rollup
from tests.base import make_production_trace, make_raw_span
from tests.metrics.helpers import NOW, hour_ago
from traces.models import Trace
from traces.services import spans_ingest


@pytest.mark.django_db
def test_a_late_span_in_an_earlier_hour_moves_the_trace(project):
    trace = make_production_trace(project, start=hour_ago(1), user_id="u1")
    traces_rollup([trace.pk])
    assert list(Rollup.objects.filter(project=project, dim="all").values_list("hour", "traces")) == [
        (NOW - timedelta(hours=1), 1)
    ]
    root = trace.root_span_id
    late = make_raw_span(trace_id=trace.trace_id, parent_span_id=root, name="retrieve", start=hour_ago(3, 50),
                         duration=0.2)  # fmt: skip
    late.resource = {"service.name": "shop-assistant", "service.version": "1.0.0"}
    spans_ingest(project=project, raws=[late])
    trace = Trace.objects.get(pk=trace.pk)
    new_hour = trace.start_time.replace(minute=0, second=0, microsecond=0)
    assert new_hour == NOW - timedelta(hours=3)

    traces_rollup([trace.pk])
    traces_rollup([trace.pk])

    rows = list(Rollup.objects.filter(project=project, dim="all").values_list("hour", "traces"))
    assert rows == [(new_hour, 1)]  # the old hour's row is gone, the new one counts the trace once
    assert TraceContribution.objects.get(trace=trace).hour == new_hour
    assert list(UserCost.objects.filter(project=project, traces__gt=0).values_list("hour", "traces")) == [(new_hour, 1)]
