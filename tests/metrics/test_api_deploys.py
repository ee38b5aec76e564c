"""POST /api/v1/deploys records a deploy marker (idempotent on version + environment); GET lists them."""

import pytest

from metrics.models import Deploy


def post(client, key, **body):
    return client.post("/api/v1/deploys", data=body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip


@pytest.mark.django_db
def test_a_deploy_is_recorded_once_per_version_and_environment(client, project, api_key):
    resp = post(client, api_key, version="2.4.1", environment="production", commit="abc123",
                description="faster retrieval", time="2026-12-01T10:00:00+02:00")  # fmt: skip
    assert resp.status_code == 201
    assert resp.json()["time"].startswith("2026-12-01T08:00:00")
    again = post(client, api_key, version="2.4.1", environment="production", description="faster retrieval, v2")
    assert again.status_code == 200 and again.json()["id"] == resp.json()["id"]
    assert post(client, api_key, version="2.4.1", environment="staging").status_code == 201

    stored = Deploy.objects.get(project=project, version="2.4.1", environment="production")
    assert (stored.description, stored.source) == ("faster retrieval, v2", "api")
    assert Deploy.objects.filter(project=project).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"version": ""}, "version is required"),
        ({"version": "1", "commit": "x" * 65}, "commit is at most 64"),
        ({"version": "v" * 101}, "at most 100"),
        ({"version": "1", "time": "2999-01-01T00:00:00Z"}, "future"),
    ],
)
def test_bad_input_gets_a_400_with_the_reason(client, project, api_key, body, reason):
    resp = post(client, api_key, **body)
    assert resp.status_code == 400
    assert reason in resp.json()["detail"]
    assert not Deploy.objects.exists()


@pytest.mark.django_db
def test_a_malformed_time_or_a_missing_version_is_refused(client, project, api_key):
    assert post(client, api_key, version="1", time="yesterday").status_code == 422
    assert post(client, api_key, environment="prod").status_code == 422


@pytest.mark.django_db
def test_the_list_is_newest_first_and_only_the_keys_project(
    client, project, api_key, other_project_and_key, django_assert_max_num_queries
):
    for i, at in enumerate(["2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z", "2026-11-02T00:00:00Z"]):
        post(client, api_key, version=f"1.{i}", time=at)
    _, other_key = other_project_and_key
    post(client, other_key, version="9.9")

    with django_assert_max_num_queries(3):
        resp = client.get("/api/v1/deploys", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert [d["version"] for d in resp.json()] == ["1.1", "1.2", "1.0"]
    since = client.get("/api/v1/deploys?since=2026-11-02T00:00:00Z", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert [d["version"] for d in since.json()] == ["1.1", "1.2"]
    assert client.get("/api/v1/deploys").status_code == 401
