"""The demo traffic (peekr_demo, through the OpenTelemetry SDK to a live server) gives every detector something
to find once its traces complete."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from insights import services
from insights.detectors import DETECTORS
from insights.models import Finding, Insight
from tests.base import make_project
from traces.models import Trace
from traces.services import trace_settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_detector_fires_on_the_demo_traffic(live_server, settings):
    project, key = make_project("demo-insights")
    call_command("peekr_demo", endpoint=live_server.url, key=key, traces=22, stdout=StringIO())
    traces = list(Trace.objects.filter(project=project).values_list("pk", flat=True))
    assert len(traces) >= 22

    # Completion as the worker runs it (the quiet period is over for a day of past traffic); then detection,
    # which the completion hook would have enqueued.
    settings.PEEKR_TRACE_QUIET_SECONDS = 0
    for pk in traces:
        trace_settle(trace_pk=pk, now=timezone.now())
        services.trace_detect(trace_pk=pk)
    assert Trace.objects.filter(project=project, completed_at__isnull=True).count() == 0

    found = set(Finding.objects.filter(project=project).values_list("detector", flat=True))
    missing = {detector_id for detector_id, _ in DETECTORS} - found
    assert not missing, f"no finding from {sorted(missing)}"
    # Each finding belongs to its insight, and the insights add up to the findings.
    for insight in Insight.objects.filter(project=project):
        assert insight.count == Finding.objects.filter(insight=insight).count()
        assert insight.endpoints and insight.first_seen <= insight.last_seen
