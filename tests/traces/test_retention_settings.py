"""A project's retention settings: the Retention page (owners and admins edit, members read, outsiders 404) and
GET/PUT /api/v1/projects/{id}/retention; every change is in the audit log."""

import json

import pytest
from django.urls import reverse

from tests.base import make_project, make_user
from traces.models import AuditEvent, Membership, RetentionPolicy, Role


def page(project):
    return reverse("traces:retention", args=[project.pk])


DAYS = {"content_days": 14, "flagged_days": 60, "record_days": 400}


@pytest.mark.django_db
def test_the_page_shows_the_defaults_and_an_owner_changes_them(owner_client, project, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        resp = owner_client.get(page(project))
    html = resp.content.decode()
    assert resp.status_code == 200
    assert 'name="content_days" value="30"' in html and 'name="flagged_days" value="90"' in html
    assert 'name="record_days" value="365"' in html

    resp = owner_client.post(page(project), DAYS)
    assert resp.status_code == 302
    policy = RetentionPolicy.objects.get(project=project)
    assert (policy.content_days, policy.flagged_days, policy.record_days) == (14, 60, 400)
    event = AuditEvent.objects.get(project=project, action="retention.update")
    assert event.actor_label == "owner"
    assert event.details == {"before": {"content_days": 30, "flagged_days": 90, "record_days": 365}, "after": DAYS}
    assert 'name="content_days" value="14"' in owner_client.get(page(project)).content.decode()


@pytest.mark.django_db
def test_a_policy_keeping_flagged_traces_shorter_than_content_is_refused(owner_client, project):
    resp = owner_client.post(page(project), {"content_days": 30, "flagged_days": 10, "record_days": 365})
    assert resp.status_code == 400
    assert "flagged_days &gt;= content_days" in resp.content.decode()
    assert not RetentionPolicy.objects.filter(project=project).exists()
    assert not AuditEvent.objects.filter(action="retention.update").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ENGINEER, Role.VIEWER, Role.REVIEWER])
def test_other_members_read_it_and_cannot_change_it(client, project, role):
    member = make_user()
    Membership.objects.create(project=project, user=member, role=role)
    client.force_login(member)
    html = client.get(page(project)).content.decode()
    assert "30 days" in html and 'name="content_days"' not in html
    assert client.post(page(project), DAYS).status_code == 404
    assert not RetentionPolicy.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_an_outsider_gets_404(client, project, outsider):
    client.force_login(outsider)
    assert client.get(page(project)).status_code == 404
    assert client.post(page(project), DAYS).status_code == 404


def api(client, method, project, key, body=None):
    url = f"/api/v1/projects/{project.pk}/retention"
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(url, **kwargs)


@pytest.mark.django_db
def test_the_api_reads_and_changes_it_with_an_admin_key(client, project, api_key):
    resp = api(client, "get", project, api_key)
    assert resp.status_code == 200
    assert resp.json() | {"updated_at": None} == {
        "project_id": project.pk, "content_days": 30, "flagged_days": 90, "record_days": 365,
        "retention_classes": {"short": 7, "pii": 1}, "updated_at": None,
    }  # fmt: skip

    resp = api(client, "put", project, api_key, DAYS)
    assert resp.status_code == 200 and resp.json()["record_days"] == 400
    assert RetentionPolicy.objects.get(project=project).content_days == 14
    event = AuditEvent.objects.get(project=project, action="retention.update")
    assert event.actor_key is not None and event.details["after"] == DAYS


@pytest.mark.django_db
def test_the_api_refuses_inconsistent_days_and_other_projects_and_narrow_keys(client, project, api_key):
    resp = api(client, "put", project, api_key, {"content_days": 30, "flagged_days": 90, "record_days": 60})
    assert resp.status_code == 400 and "record_days >= flagged_days" in resp.json()["detail"]
    assert api(client, "put", project, api_key, {**DAYS, "content_days": 0}).status_code == 422

    other, _ = make_project("elsewhere")
    assert api(client, "get", other, api_key).status_code == 404
    assert api(client, "put", other, api_key, DAYS).status_code == 404

    read_project, read_key = make_project("reader", key_scope="read")
    assert api(client, "get", read_project, read_key).status_code == 200
    assert api(client, "put", read_project, read_key, DAYS).status_code == 403
    assert not RetentionPolicy.objects.exists()
