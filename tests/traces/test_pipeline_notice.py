"""The slim "Evaluations are 4 min behind" notice every page shows a signed-in user (traces.context_processors)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.traces.pipeline_backlog import completed_traces


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    cache.clear()
    yield
    cache.clear()


def _backlog_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if '"stages_done" &' in q["sql"]]  # the bit test: only the backlog query


@pytest.mark.django_db
def test_a_page_says_how_far_evaluations_are_behind(owner_client, project):
    completed_traces(project, 3, age_seconds=245)
    page = owner_client.get(f"/p/{project.pk}/traces").content.decode()
    assert '<p class="banner pipeline-behind" role="status">Evaluations are 4 min behind: 3 traces waiting</p>' in page


@pytest.mark.django_db
def test_no_notice_while_evaluations_keep_up(owner_client, project):
    completed_traces(project, 3, age_seconds=20)
    page = owner_client.get(f"/p/{project.pk}/traces").content.decode()
    assert "pipeline-behind" not in page
    assert "behind" not in page


@pytest.mark.django_db
def test_a_visitor_who_is_not_signed_in_sees_no_notice_and_costs_no_backlog_query(client, project):
    completed_traces(project, 3, age_seconds=245)
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/login/").content.decode()
    assert "pipeline-behind" not in page
    assert _backlog_queries(ctx.captured_queries) == []


@pytest.mark.django_db
def test_the_backlog_is_read_once_then_cached(owner_client, project):
    completed_traces(project, 3, age_seconds=245)
    url = f"/p/{project.pk}/traces"
    with CaptureQueriesContext(connection) as first:
        owner_client.get(url)
    with CaptureQueriesContext(connection) as second:
        page = owner_client.get(url).content.decode()
    assert len(_backlog_queries(first.captured_queries)) == 1
    assert _backlog_queries(second.captured_queries) == []
    assert len(second.captured_queries) == len(first.captured_queries) - 1
    assert "Evaluations are 4 min behind: 3 traces waiting" in page  # from the cache


@pytest.mark.django_db
def test_an_htmx_partial_does_not_read_the_backlog(owner_client, project):
    completed_traces(project, 3, age_seconds=245)
    with CaptureQueriesContext(connection) as ctx:
        resp = owner_client.get(f"/p/{project.pk}/traces", headers={"HX-Request": "true", "HX-Target": "trace-table"})
    assert resp.status_code == 200
    assert "<html" not in resp.content.decode()
    assert _backlog_queries(ctx.captured_queries) == []
