"""The Evaluations page's lag chart: the evaluation backlog over the last 24 hours, from the minute samples."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from traces.models import PipelineSample


def _figure(page: str) -> dict:
    found = re.search(r'<script id="figure-eval-lag" type="application/json">(.*?)</script>', page, re.S)
    assert found, "no lag figure on the page"
    return json.loads(found.group(1))


@pytest.mark.django_db
def test_the_page_charts_the_last_day_of_samples(owner_client, project):
    now = timezone.now().replace(second=0, microsecond=0)
    for minutes, waiting, oldest in ((30 * 60, 1, 999.0), (10, 12400, 240.0), (5, 300, 90.0), (0, 0, None)):
        PipelineSample.objects.create(
            at=now - timedelta(minutes=minutes), stage="evaluate", waiting=waiting, oldest_seconds=oldest
        )
    PipelineSample.objects.create(at=now, stage="detect", waiting=77, oldest_seconds=600.0)
    page = owner_client.get(f"/p/{project.pk}/evals").content.decode()
    figure = _figure(page)
    bars, line = figure["data"]
    assert bars["y"] == [12400, 300, 0]  # the evaluate stage within 24 h only, oldest first
    assert line["y"] == [4.0, 1.5, 0]  # minutes behind
    assert 'data-figure="figure-eval-lag"' in page
    assert "js/plotly.min.js" in page and "js/charts.js" in page
    assert "No backlog samples yet" not in page


@pytest.mark.django_db
def test_without_samples_the_page_says_the_worker_records_them(owner_client, project):
    page = owner_client.get(f"/p/{project.pk}/evals").content.decode()
    assert "No backlog samples yet: the worker records one a minute." in page
    assert "figure-eval-lag" not in page
    assert "plotly.min.js" not in page  # 3 MB not loaded for nothing
