"""GET /api/v1/releases/compare: unknown versions answer 404 with the versions that exist, a window without
traffic is "not enough data" (never a pass), another project's key sees nothing, bad windows answer 400."""

from datetime import timedelta

import pytest
from django.utils import timezone

from metrics.services import traces_rollup
from tests.base import make_blocking, make_production_trace

URL = "/api/v1/releases/compare"


def get(client, key, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"{URL}?{query}", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def two_releases(project):
    start = (timezone.now() - timedelta(days=3)).timestamp()
    pks = [make_production_trace(project, start=start + i, release=r).pk for i, r in enumerate(["1.0", "1.1"] * 3)]
    traces_rollup(pks)
    make_blocking(project, "json_valid")
    return project


@pytest.mark.django_db
def test_an_unknown_version_answers_404_with_the_versions_that_exist(client, api_key, two_releases):
    resp = get(client, api_key, baseline="1.0", candidate="9.9")
    assert resp.status_code == 404
    body = resp.json()
    assert body["code"] == "not_found" and body["versions"] == ["1.0", "1.1"]
    assert "9.9" in body["detail"] and "1.0, 1.1" in body["detail"]


@pytest.mark.django_db
def test_a_window_without_traffic_is_not_enough_data_never_a_pass(
    client, api_key, two_releases, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        resp = get(client, api_key, baseline="1.0", candidate="1.1", window="24h")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["candidate"]["traces"] == 0 and body["baseline"]["traces"] == 0
    assert body["verdict"]["status"] == "not_enough_data" and body["verdict"]["exit_code"] == 3
    assert "no traffic" in body["verdict"]["reason"]
    wide = get(client, api_key, baseline="1.0", candidate="1.1", window="7d").json()
    assert wide["candidate"]["traces"] == 3 and wide["candidate"]["share"] == 0.5


@pytest.mark.django_db
def test_another_projects_key_sees_no_version(client, two_releases, other_project_and_key):
    _, other_key = other_project_and_key
    resp = get(client, other_key, baseline="1.0", candidate="1.1")
    assert resp.status_code == 404 and resp.json()["versions"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("window", ["1w", "0h", "100d"])
def test_a_bad_window_answers_400_with_the_reason(client, api_key, two_releases, window):
    resp = get(client, api_key, baseline="1.0", candidate="1.1", window=window)
    assert resp.status_code == 400 and "window" in resp.json()["detail"]
