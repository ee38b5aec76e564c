"""Login throttling (django-axes): the AXES_FAILURE_LIMIT-th wrong password in a row for one username from one
address gets a 429 page, and so does every attempt of that pair for the cool-off, even with the right password;
other addresses and other usernames are not affected."""

import pytest
from django.conf import settings

from tests.base import make_user

pytestmark = pytest.mark.django_db
RIGHT = "pw-for-tests-1"


def log_in(client, password: str, username: str = "owner", **meta):
    meta.setdefault("REMOTE_ADDR", "10.0.0.1")
    return client.post("/login/", {"username": username, "password": password}, **meta)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def owner_user():
    return make_user("owner")


def fail(client, times: int, **meta) -> list[int]:
    return [log_in(client, "wrong", **meta).status_code for _ in range(times)]


def test_the_limit_is_a_real_one():
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 20


def test_past_the_limit_even_the_right_password_is_refused_with_a_page_saying_why(client, owner_user):
    limit = settings.AXES_FAILURE_LIMIT
    assert fail(client, limit) == [200] * (limit - 1) + [429]  # the form again, until the last failure allowed

    response = log_in(client, RIGHT)

    assert response.status_code == 429
    text = " ".join(response.content.decode().split())
    assert "Too many failed log-ins" in text
    assert f"“owner” had {limit} wrong passwords in a row from your address" in text
    assert "paused for 15 minutes, even with the right password" in text
    assert not logged_in(client)


def test_one_failure_fewer_still_lets_the_right_password_in(client, owner_user):
    fail(client, settings.AXES_FAILURE_LIMIT - 1)

    assert log_in(client, RIGHT).status_code == 302
    assert logged_in(client)


def test_a_success_resets_the_count(client, owner_user):
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, RIGHT).status_code == 302
    client.logout()

    assert fail(client, settings.AXES_FAILURE_LIMIT - 1)[-1] == 200
    assert log_in(client, RIGHT).status_code == 302


def test_the_same_user_from_another_address_and_another_user_from_that_address_still_log_in(client, owner_user):
    make_user("teammate")
    fail(client, settings.AXES_FAILURE_LIMIT)
    assert log_in(client, RIGHT).status_code == 429

    assert log_in(client, RIGHT, REMOTE_ADDR="10.0.0.2").status_code == 302
    client.logout()
    assert log_in(client, RIGHT, username="teammate").status_code == 302


def test_behind_a_trusted_proxy_the_address_it_saw_counts_and_a_forged_one_does_not_help(client, owner_user, settings):
    settings.PEEKR_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.9.9.9"}
    fail(client, settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)

    # The client may prepend anything; the proxy appends what it saw.
    forged = log_in(client, RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7", **proxy)
    assert forged.status_code == 429
    assert log_in(client, RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy).status_code == 302


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, owner_user):
    fail(client, settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert log_in(client, RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 429


def test_the_admin_login_is_throttled_too(client, owner_user):
    owner_user.is_staff = True
    owner_user.save()
    fail(client, settings.AXES_FAILURE_LIMIT)

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "owner", "password": RIGHT}, REMOTE_ADDR="10.0.0.1"
    )

    assert response.status_code == 429
    assert not logged_in(client)
