"""The Privacy page: members read it, owners and admins change it, outsiders get 404; the onboarding says so."""

import pytest

from tests.base import make_user
from traces.models import AuditEvent, Membership, PrivacySettings, Role

FORM = {
    "action_email": "tokenise", "action_phone": "mask", "action_credit_card": "mask", "action_iban": "keep",
    "action_ssn": "mask", "action_ip": "keep", "hash_user_id": "on", "custom_patterns": "", "drop_keys": "secret.key",
}  # fmt: skip


def url(project) -> str:
    return f"/p/{project.pk}/settings/privacy"


@pytest.mark.django_db
def test_an_owner_saves_the_settings_and_it_is_audited(owner_client, owner, project):
    resp = owner_client.post(url(project), FORM)
    assert resp.status_code == 302
    row = PrivacySettings.objects.get(project=project)
    assert row.actions["email"] == "tokenise" and row.actions["phone"] == "mask" and row.drop_keys == ["secret.key"]
    event = AuditEvent.objects.get(project=project, action="privacy.update")
    assert event.actor_user == owner


@pytest.mark.django_db
def test_a_bad_pattern_is_shown_with_its_reason_and_nothing_changes(owner_client, project):
    resp = owner_client.post(url(project), {**FORM, "custom_patterns": "dup mask (x|y)\\1"})
    assert resp.status_code == 400
    assert "back-references are not allowed" in resp.content.decode()
    assert PrivacySettings.objects.get(project=project).actions["email"] == "mask"


@pytest.mark.django_db
def test_an_engineer_reads_but_cannot_change(client, project):
    engineer = make_user("eng")
    Membership.objects.create(project=project, user=engineer, role=Role.ENGINEER)
    client.force_login(engineer)
    page = client.get(url(project))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Owners and admins can change these." in html and "privacy-form" not in html
    assert client.post(url(project), FORM).status_code == 404
    assert PrivacySettings.objects.get(project=project).actions["email"] == "mask"


@pytest.mark.django_db
def test_an_outsider_gets_404(client, outsider, project):
    client.force_login(outsider)
    assert client.get(url(project)).status_code == 404


@pytest.mark.django_db
def test_the_onboarding_says_masking_is_on_and_where_to_change_it(owner_client, project):
    html = owner_client.get(f"/p/{project.pk}/traces").content.decode()
    assert "Personal data is masked before it is stored" in html
    assert f'href="{url(project)}"' in html
