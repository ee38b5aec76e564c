"""API keys /p/<id>/settings/keys: list, create (shown once), revoke; only owners and admins manage."""

import pytest
from django.urls import reverse

from tests.base import make_user
from traces.models import ApiKey, Membership, Role
from traces.selectors import project_for_key


def keys_url(project):
    return reverse("traces:keys", args=[project.pk])


def revoke_url(project, key):
    return reverse("traces:key_revoke", args=[project.pk, key.pk])


@pytest.fixture
def viewer_client(client, project):
    viewer = make_user("viewer")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    return client


def test_it_lists_the_keys_by_their_prefix_never_the_key(owner_client, project, api_key):
    response = owner_client.get(keys_url(project))
    html = response.content.decode()
    key = ApiKey.objects.get(project=project)
    assert response.status_code == 200
    assert key.display in html and key.name in html
    assert api_key not in html
    assert "Create a key" in html and "Revoke" in html


def test_creating_a_key_shows_it_once(owner_client, project):
    created = owner_client.post(keys_url(project), {"name": "production"})
    assert created.status_code == 302 and created["Location"] == keys_url(project)  # a reload makes no second key
    response = owner_client.get(keys_url(project))
    raw = response.context["new_key"]
    html = response.content.decode()
    assert raw.startswith("pk_") and raw in html
    assert "shown only this once" in html
    assert f'OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer {raw}"' in html
    assert response["Cache-Control"] == "no-store"
    stored = ApiKey.objects.get(project=project, name="production")
    assert stored.key_hash == ApiKey.hash(raw)
    assert project_for_key(raw) == project
    # Never again, and nowhere else: the session held it for that one page.
    assert raw not in owner_client.get(keys_url(project)).content.decode()
    assert all(raw not in str(v) for v in owner_client.session.values())
    assert ApiKey.objects.filter(project=project, name="production").count() == 1


def test_a_new_key_is_shown_only_on_its_own_projects_page_and_only_for_a_while(owner_client, project, owner):
    from tests.base import make_project
    from traces import views

    other, _ = make_project("other", owner=owner)
    owner_client.post(keys_url(project), {"name": "late"})
    assert owner_client.get(keys_url(other)).context["new_key"] == ""  # another project's page: not there
    session = owner_client.session
    session[views.NEW_KEY_SESSION]["at"] -= views.NEW_KEY_SECONDS + 1  # the redirect was never followed
    session.save()
    assert owner_client.get(keys_url(project)).context["new_key"] == ""
    assert views.NEW_KEY_SESSION not in owner_client.session


def test_a_key_needs_a_name(owner_client, project):
    response = owner_client.post(keys_url(project), {"name": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert ApiKey.objects.filter(project=project).count() == 1


def test_revoking_a_key(owner_client, project, api_key):
    key = ApiKey.objects.get(project=project)
    response = owner_client.post(revoke_url(project, key), follow=True)
    assert response.redirect_chain[-1][0] == keys_url(project)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert project_for_key(api_key) is None
    html = response.content.decode()
    assert "revoked" in html and "data-confirm=" not in html.split(key.display, 1)[1].split("</tr>", 1)[0]


def test_revoke_is_post_only(owner_client, project):
    key = ApiKey.objects.get(project=project)
    assert owner_client.get(revoke_url(project, key)).status_code == 405
    key.refresh_from_db()
    assert key.revoked_at is None


def test_the_revoke_form_asks_for_confirmation(owner_client, project):
    html = owner_client.get(keys_url(project)).content.decode()
    assert 'data-confirm="Revoke the key' in html


def test_a_viewer_sees_the_keys_but_cannot_create_or_revoke(viewer_client, project):
    key = ApiKey.objects.get(project=project)
    html = viewer_client.get(keys_url(project)).content.decode()
    assert key.display in html
    assert "Create a key" not in html and "Revoke" not in html
    assert viewer_client.post(keys_url(project), {"name": "sneaky"}).status_code == 404
    assert viewer_client.post(revoke_url(project, key)).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert not ApiKey.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.REVIEWER])
def test_other_non_admin_roles_cannot_manage_keys(client, project, role):
    user = make_user()
    Membership.objects.create(project=project, user=user, role=role)
    client.force_login(user)
    assert client.post(keys_url(project), {"name": "x"}).status_code == 404


def test_an_admin_can_manage_keys(client, project):
    admin = make_user("admin")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    client.force_login(admin)
    assert client.post(keys_url(project), {"name": "by-admin"}).status_code == 302
    assert ApiKey.objects.filter(project=project, name="by-admin").exists()


def test_outsiders_get_404_on_every_keys_url(client, outsider, project):
    key = ApiKey.objects.get(project=project)
    client.force_login(outsider)
    assert client.get(keys_url(project)).status_code == 404
    assert client.post(keys_url(project), {"name": "x"}).status_code == 404
    assert client.post(revoke_url(project, key)).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_another_projects_key_cannot_be_revoked_through_my_project(owner_client, project, other_project_and_key):
    other_project, other_raw = other_project_and_key
    foreign = ApiKey.objects.get(project=other_project)
    assert owner_client.post(revoke_url(project, foreign)).status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_anonymous_users_are_sent_to_login(client, project):
    assert client.post(keys_url(project), {"name": "x"}).status_code == 302
    assert not ApiKey.objects.filter(name="x").exists()
