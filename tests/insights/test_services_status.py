"""insight_set_status: open, dismissed, fixed; marking fixed starts the regression watch, reopening ends it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from insights import services
from insights.models import Insight
from tests.insights.stored import sequential_trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def insight(project):
    services.trace_detect(trace_pk=sequential_trace(project).pk)
    return Insight.objects.get()


def test_fixing_records_when_and_reopening_forgets_it(insight):
    at = timezone.now() - timedelta(hours=1)
    services.insight_set_status(insight=insight, status="fixed", now=at)
    insight.refresh_from_db()
    assert (insight.status, insight.fixed_at, insight.status_changed_at) == ("fixed", at, at)

    services.insight_set_status(insight=insight, status="open")
    insight.refresh_from_db()
    assert (insight.status, insight.fixed_at, insight.regressed_at) == ("open", None, None)


def test_a_regressed_insight_can_be_fixed_again_from_now(project, insight):
    services.insight_set_status(insight=insight, status="fixed", now=timezone.now() - timedelta(hours=1))
    services.trace_detect(trace_pk=sequential_trace(project).pk)
    insight.refresh_from_db()
    assert insight.status == "regressed"

    services.insight_set_status(insight=insight, status="fixed")
    insight.refresh_from_db()
    assert insight.status == "fixed" and insight.regressed_at is None
    assert insight.fixed_at > timezone.now() - timedelta(minutes=1)


def test_dismissing_keeps_the_counters(insight):
    services.insight_set_status(insight=insight, status="dismissed")
    insight.refresh_from_db()
    assert (insight.status, insight.count) == ("dismissed", 1)


@pytest.mark.parametrize("status", ["regressed", "closed", ""])
def test_it_refuses_a_status_that_cannot_be_set(insight, status):
    with pytest.raises(services.StatusInvalid, match="status must be one of open, dismissed, fixed"):
        services.insight_set_status(insight=insight, status=status)
    insight.refresh_from_db()
    assert insight.status == "open"
