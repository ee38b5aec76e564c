"""A regression marked fixed that recurs on a later release reopens (history: "recurred on release X"); the same
release again only adds traces; "later" follows the releases' first deploys."""

from datetime import UTC, datetime, timedelta

import pytest

from metrics.models import Deploy
from regressions.models import Regression
from regressions.services import regression_update
from tests.base import make_regression

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def deploy(project, version, days):
    Deploy.objects.create(project=project, version=version, at=T0 + timedelta(days=days))


def test_a_fixed_regression_recurring_on_a_later_release_reopens(project):
    deploy(project, "2.0.0", 0)
    deploy(project, "2.1.0", 3)
    regression = make_regression(project, release="2.0.0", trace_ids=["a" * 32])
    regression_update(regression=regression, status="fixed")

    again = make_regression(project, release="2.1.0", trace_ids=["b" * 32], severity="critical")

    assert again.pk == regression.pk and Regression.objects.count() == 1
    regression.refresh_from_db()
    assert regression.status == "open" and regression.fixed_at is None
    assert regression.release == "2.1.0" and regression.releases == ["2.0.0", "2.1.0"]
    assert regression.trace_ids == ["b" * 32, "a" * 32] and regression.severity == "critical"
    recurred = regression.events.get(kind="recurred")
    assert recurred.note == "recurred on release 2.1.0"
    assert recurred.changes["status"] == ["fixed", "open"]


def test_the_same_release_again_only_adds_traces(project):
    regression = make_regression(project, release="2.0.0", trace_ids=["a" * 32])
    regression_update(regression=regression, status="fixed")

    make_regression(project, release="2.0.0", trace_ids=["c" * 32])

    regression.refresh_from_db()
    assert Regression.objects.count() == 1
    assert regression.status == "fixed" and regression.trace_ids == ["c" * 32, "a" * 32]
    assert regression.events.filter(kind="recurred").count() == 0
    assert "stays fixed" in regression.events.filter(kind="seen_again").get().note


def test_an_older_release_does_not_reopen_a_fix(project):
    deploy(project, "1.9.0", 0)
    deploy(project, "2.0.0", 2)
    regression = make_regression(project, release="2.0.0")
    regression_update(regression=regression, status="fixed")

    older = make_regression(project, release="1.9.0")

    regression.refresh_from_db()
    assert regression.status == "fixed"
    assert older.pk != regression.pk and older.status == "open"  # its own regression, on its own release


def test_wont_fix_is_not_reopened_by_the_same_release(project):
    regression = make_regression(project, release="2.0.0")
    regression_update(regression=regression, status="wont_fix")
    make_regression(project, release="2.0.0")
    regression.refresh_from_db()
    assert regression.status == "wont_fix" and Regression.objects.count() == 1
