"""Members in the UI: invitations by link (joining while logged in, or signing up through it), role changes,
removal; a project always keeps an owner; every change is in the audit log; projects are created from the UI."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.base import make_user
from traces.models import ApiKey, AuditEvent, Invitation, KeyScope, Membership, Project, Role


def members_url(project):
    return reverse("traces:members", args=[project.pk])


def invite_link(client, project, role):
    client.post(reverse("traces:invite", args=[project.pk]), {"role": role})
    return client.get(members_url(project)).context["secret"]


@pytest.mark.django_db
def test_an_invitation_link_makes_a_logged_in_person_a_member_once(client, owner, project):
    client.force_login(owner)
    link = invite_link(client, project, Role.REVIEWER)
    path = link.split("://", 1)[-1].split("/", 1)[1]
    assert client.get(members_url(project)).context["secret"] == ""  # shown once
    bob = make_user("bob")
    client.force_login(bob)
    assert client.get("/" + path).status_code == 200
    response = client.post("/" + path)
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=bob).role == Role.REVIEWER
    assert client.get("/" + path).status_code == 404  # used
    assert AuditEvent.objects.filter(project=project, action="invitation.accept", actor_user=bob).exists()


@pytest.mark.django_db
def test_someone_without_an_account_signs_up_through_the_link(client, owner, project):
    client.force_login(owner)
    path = "/" + invite_link(client, project, Role.VIEWER).split("://", 1)[-1].split("/", 1)[1]
    client.logout()
    response = client.post(
        path, {"username": "newbie", "password1": "a-long-pass-9876", "password2": "a-long-pass-9876"}
    )
    assert response.status_code == 302
    newbie = get_user_model().objects.get(username="newbie")
    assert Membership.objects.get(project=project, user=newbie).role == Role.VIEWER
    assert client.get(reverse("traces:trace_list", args=[project.pk])).status_code == 200  # logged in


@pytest.mark.django_db
def test_an_expired_or_revoked_invitation_does_nothing(client, owner, project):
    from django.utils import timezone

    client.force_login(owner)
    path = "/" + invite_link(client, project, Role.ENGINEER).split("://", 1)[-1].split("/", 1)[1]
    Invitation.objects.update(expires_at=timezone.now())
    client.force_login(make_user("late"))
    assert client.post(path).status_code == 404
    assert Membership.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_roles_change_and_members_are_removed_but_never_the_last_owner(client, owner, project):
    client.force_login(owner)
    me = Membership.objects.get(project=project, user=owner)
    bob = Membership.objects.create(project=project, user=make_user("bob"), role=Role.ENGINEER)
    client.post(reverse("traces:member_role", args=[project.pk, bob.pk]), {"role": Role.ADMIN})
    assert Membership.objects.get(pk=bob.pk).role == Role.ADMIN
    # The only owner can be neither demoted nor removed.
    client.post(reverse("traces:member_role", args=[project.pk, me.pk]), {"role": Role.VIEWER})
    client.post(reverse("traces:member_remove", args=[project.pk, me.pk]))
    assert Membership.objects.get(pk=me.pk).role == Role.OWNER
    # An admin cannot unmake an owner either.
    client.force_login(bob.user)
    client.post(reverse("traces:member_remove", args=[project.pk, me.pk]))
    assert Membership.objects.filter(pk=me.pk).exists()
    client.force_login(owner)
    client.post(reverse("traces:member_remove", args=[project.pk, bob.pk]))
    assert not Membership.objects.filter(pk=bob.pk).exists()
    actions = list(AuditEvent.objects.filter(project=project).order_by("id").values_list("action", "target"))
    assert actions == [("member.role", "bob"), ("member.remove", "bob")]


@pytest.mark.django_db
def test_engineers_reviewers_and_viewers_cannot_manage_members(client, project):
    for role in (Role.ENGINEER, Role.REVIEWER, Role.VIEWER):
        user = make_user(f"u-{role}")
        Membership.objects.create(project=project, user=user, role=role)
        client.force_login(user)
        assert client.get(members_url(project)).status_code == 404
        assert client.post(reverse("traces:invite", args=[project.pk]), {"role": Role.OWNER}).status_code == 404
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_a_project_is_created_from_the_ui_with_an_ingest_key(client, owner):
    client.force_login(owner)
    response = client.post(reverse("traces:project_new"), {"name": "checkout-bot"})
    project = Project.objects.get(name="checkout-bot")
    assert response["Location"] == reverse("traces:keys", args=[project.pk])
    assert Membership.objects.get(project=project).role == Role.OWNER
    assert ApiKey.objects.get(project=project).scope == KeyScope.INGEST
    page = client.get(response["Location"])
    assert page.context["new_key"].startswith("pk_")


@pytest.mark.django_db
def test_keys_show_their_scope_and_last_use_and_changes_are_audited(client, owner, project):
    client.force_login(owner)
    client.post(reverse("traces:keys", args=[project.pk]), {"name": "reader", "scope": "read"})
    key = ApiKey.objects.get(name="reader")
    assert key.scope == KeyScope.READ
    html = client.get(reverse("traces:keys", args=[project.pk])).content.decode()
    assert "scope-read" in html and "never" in html
    client.post(reverse("traces:key_revoke", args=[project.pk, key.pk]))
    assert list(AuditEvent.objects.values_list("action", flat=True).order_by("id")) == ["key.create", "key.revoke"]
