"""GET/POST /api/v1/regressions and GET/PATCH /api/v1/regressions/{id}: filters and pages, a regression filed by
hand, owner assignment (members only), validated status transitions, history; another project's key gets 404."""

import pytest

from regressions.models import Regression
from tests.base import make_regression, make_user
from traces.models import Membership, Role

pytestmark = pytest.mark.django_db
API = "/api/v1/regressions"


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def teammate(project):
    user = make_user("teammate")
    Membership.objects.create(project=project, user=user, role=Role.ENGINEER)
    return user


def test_it_lists_with_filters_and_pages(client, project, api_key, django_assert_max_num_queries):
    for i in range(5):
        make_regression(project, key=f"evaluator:e{i}", release="2.0.0" if i % 2 else "2.1.0")
    critical = make_regression(project, key="monitor:9", source="alert", severity="critical", release="2.1.0")
    with django_assert_max_num_queries(4):
        body = client.get(f"{API}?limit=4", headers=auth(api_key)).json()
    assert body["total"] == 6 and len(body["items"]) == 4 and body["items"][0]["id"] == critical.pk
    assert body["items"][0]["events"] is None  # the history is on a single regression only
    page2 = client.get(f"{API}?limit=4&offset=4", headers=auth(api_key)).json()
    assert len(page2["items"]) == 2
    assert {r["id"] for r in body["items"] + page2["items"]} == set(Regression.objects.values_list("pk", flat=True))
    assert client.get(f"{API}?severity=critical", headers=auth(api_key)).json()["total"] == 1
    assert client.get(f"{API}?release=2.0.0", headers=auth(api_key)).json()["total"] == 2
    assert client.get(f"{API}?source=alert", headers=auth(api_key)).json()["total"] == 1
    assert client.get(f"{API}?status=fixed", headers=auth(api_key)).json()["total"] == 0
    assert client.get(f"{API}?limit=0", headers=auth(api_key)).status_code == 422


def test_it_files_one_by_hand(client, project, api_key, teammate):
    answer = client.post(API, {"title": "Refund answers cite the old policy", "severity": "high", "owner": "teammate",
                               "release": "2.1.0", "trace_ids": ["a" * 32]},
                         content_type="application/json", headers=auth(api_key))  # fmt: skip
    assert answer.status_code == 201
    body = answer.json()
    stored = Regression.objects.get(pk=body["id"])
    assert (stored.source, stored.owner, stored.release, stored.trace_ids) == ("manual", teammate, "2.1.0", ["a" * 32])
    assert [e["kind"] for e in body["events"]] == ["opened", "owner"]
    bad = client.post(API, {"title": "x", "severity": "apocalyptic"}, content_type="application/json",
                      headers=auth(api_key))  # fmt: skip
    assert bad.status_code == 400 and "severity must be one of" in bad.json()["detail"]
    assert (
        client.post(API, {"severity": "low"}, content_type="application/json", headers=auth(api_key)).status_code == 422
    )


def test_patch_assigns_a_member_and_moves_the_status(client, project, api_key, teammate, outsider):
    regression = make_regression(project)
    url = f"{API}/{regression.pk}"

    answer = client.patch(url, {"owner": "teammate", "status": "investigating"}, content_type="application/json",
                          headers=auth(api_key))  # fmt: skip
    assert answer.status_code == 200
    assert (answer.json()["owner"], answer.json()["status"]) == ("teammate", "investigating")

    refused = client.patch(url, {"owner": "outsider"}, content_type="application/json", headers=auth(api_key))
    assert refused.status_code == 400 and refused.json()["detail"] == "'outsider' is not a member of this project"
    nobody = client.patch(url, {"owner": "ghost"}, content_type="application/json", headers=auth(api_key))
    assert nobody.status_code == 400

    fixed = client.patch(url, {"status": "fixed"}, content_type="application/json", headers=auth(api_key))
    assert fixed.status_code == 200
    wrong = client.patch(url, {"status": "investigating"}, content_type="application/json", headers=auth(api_key))
    assert wrong.status_code == 400
    assert wrong.json()["detail"] == "a fixed regression can only become open; reopen it first"
    unknown = client.patch(url, {"status": "done"}, content_type="application/json", headers=auth(api_key))
    assert unknown.status_code == 400 and "status must be one of" in unknown.json()["detail"]
    same = client.patch(url, {"status": "fixed"}, content_type="application/json", headers=auth(api_key))
    assert same.status_code == 400 and same.json()["detail"] == "the regression is already fixed"

    regression.refresh_from_db()
    assert (regression.owner, regression.status) == (teammate, "fixed") and regression.fixed_at is not None
    body = client.get(url, headers=auth(api_key)).json()
    assert [e["kind"] for e in body["events"]] == ["opened", "owner", "status", "status"]
    assert body["events"][1]["changes"] == {"owner": [None, "teammate"]}
    unassign = client.patch(url, {"owner": ""}, content_type="application/json", headers=auth(api_key))
    assert unassign.json()["owner"] is None


def test_reopening_by_hand_is_refused_while_another_is_open(client, project, api_key):
    first = make_regression(project)
    client.patch(f"{API}/{first.pk}", {"status": "fixed"}, content_type="application/json", headers=auth(api_key))
    row = {f: getattr(first, f) for f in ("project", "source", "key", "release", "title", "severity")}
    second = Regression.objects.create(**row)  # opened meanwhile (e.g. before the fix was recorded)
    answer = client.patch(f"{API}/{first.pk}", {"status": "open"}, content_type="application/json",
                          headers=auth(api_key))  # fmt: skip
    assert answer.status_code == 400 and f"regression {second.pk} is already open" in answer.json()["detail"]


def test_another_projects_key_gets_404(client, project, other_project_and_key):
    regression = make_regression(project)
    _, other_key = other_project_and_key
    assert client.get(f"{API}/{regression.pk}", headers=auth(other_key)).status_code == 404
    patched = client.patch(f"{API}/{regression.pk}", {"status": "fixed"}, content_type="application/json",
                           headers=auth(other_key))  # fmt: skip
    assert patched.status_code == 404
    assert client.get(API, headers=auth(other_key)).json()["total"] == 0
    assert client.get(API).status_code == 401
