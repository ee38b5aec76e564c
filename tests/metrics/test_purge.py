"""Rollups are kept 12 months: older rows are purged."""

from datetime import timedelta

import pytest

from metrics.models import Rollup, UserCost
from metrics.services import rollups_purge
from tests.metrics.helpers import NOW


@pytest.mark.django_db
def test_rows_older_than_twelve_months_are_purged(project):
    for days in (10, 300, 400):
        Rollup.objects.create(project=project, dim="all", value="", hour=NOW - timedelta(days=days), traces=1)
        UserCost.objects.create(project=project, user_id="u", hour=NOW - timedelta(days=days), cost=1, traces=1)
    assert rollups_purge(now=NOW) == 2
    assert sorted((NOW - r).days for r in Rollup.objects.values_list("hour", flat=True)) == [10, 300]
    assert UserCost.objects.count() == 2
