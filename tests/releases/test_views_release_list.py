"""The Releases page (moved from metrics): each release's first seen, traces, deploys and key metrics, from rollups."""

import pytest

from metrics.services import deploy_record, traces_rollup
from tests.base import make_production_trace
from tests.metrics.helpers import hour_ago


@pytest.mark.django_db
def test_the_releases_list(owner_client, project, django_assert_max_num_queries):
    pks = [make_production_trace(project, start=hour_ago(h), release=r, error=h == 5).pk
           for h, r in [(30, "1.0"), (5, "2.0"), (4, "2.0")]]  # fmt: skip
    traces_rollup(pks)
    deploy_record(project=project, version="2.1", environment="prod", commit="deadbeef", description="hotfix")

    with django_assert_max_num_queries(14):
        resp = owner_client.get(f"/p/{project.pk}/releases")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert 'aria-current="page">Releases</a>' in html
    rows = [r for r in html.split('<tr data-release="')[1:]]
    assert [r.split('"')[0] for r in rows] == ["2.1", "2.0", "1.0"]
    assert "deadbeef" in rows[0] and "hotfix" in rows[0] and '<td class="num">0</td>' in rows[0]
    cells = rows[1]
    assert '<td class="num">2</td>' in cells and "50%" in cells and "seen in traces" in cells


@pytest.mark.django_db
def test_an_empty_project_says_how_to_get_releases(owner_client, project):
    assert "service.version" in owner_client.get(f"/p/{project.pk}/releases").content.decode()
