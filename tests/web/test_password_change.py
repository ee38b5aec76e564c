"""The admin's generated password: every page says "change your password" until it is changed, at /password/."""

import pytest
from django.contrib.auth import get_user_model

from peekr_web.accounts import generated_password_hash, password_is_generated
from tests.base import make_user

pytestmark = pytest.mark.django_db
BANNER = "You are using the password Peekr generated"


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create(username="admin", is_superuser=True, is_staff=True)
    admin.password = generated_password_hash("generated-pw-1")
    admin.save()
    client.force_login(admin)
    return client


def test_every_page_asks_to_change_a_generated_password(admin_client, project):
    for url in ("/", f"/p/{project.pk}/settings/keys", "/password/"):
        html = admin_client.get(url, follow=True).content.decode()
        assert BANNER in html, url
        assert '<a href="/password/">Change your password</a>' in html


def test_changing_it_keeps_the_session_and_the_banner_goes(admin_client):
    response = admin_client.post(
        "/password/",
        {
            "old_password": "generated-pw-1",
            "new_password1": "a-new-long-password",
            "new_password2": "a-new-long-password",
        },
    )

    assert response.status_code == 302
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password("a-new-long-password")
    assert not password_is_generated(admin.password)
    page = admin_client.get(response["Location"], follow=True)
    html = page.content.decode()
    assert page.status_code == 200 and "Your password was changed." in html
    assert BANNER not in html
    assert "_auth_user_id" in admin_client.session  # still logged in


def test_a_wrong_old_password_changes_nothing(admin_client):
    response = admin_client.post(
        "/password/",
        {"old_password": "nope", "new_password1": "a-new-long-password", "new_password2": "a-new-long-password"},
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    assert get_user_model().objects.get(username="admin").check_password("generated-pw-1")


def test_a_password_changed_any_other_way_drops_the_banner_too(admin_client):
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-with-manage-py")  # what `manage.py changepassword` and the admin do
    admin.save()
    admin_client.force_login(admin)

    assert BANNER not in admin_client.get("/", follow=True).content.decode()


def test_users_who_chose_their_password_never_see_it(owner_client, project):
    assert BANNER not in owner_client.get(f"/p/{project.pk}/traces").content.decode()
    assert not password_is_generated(make_user("someone").password)
    assert not password_is_generated("!unusable")


def test_the_page_needs_a_login(client):
    response = client.get("/password/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
