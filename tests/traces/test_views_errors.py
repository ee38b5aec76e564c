"""The 404 and 500 pages."""

from django.test import RequestFactory

from peekr_web.errors import server_error


def test_404_is_a_friendly_page(owner_client, project):
    response = owner_client.get("/p/999999/traces")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and 'href="/"' in html
    assert "<html" in html


def test_500_renders_without_the_database_or_a_session():
    # No db fixture: pytest-django makes any query here raise. No session or user: no middleware ran.
    request = RequestFactory().get("/boom")
    response = server_error(request)
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def test_the_login_page_logs_in(client, owner):
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content
    response = client.post("/login/", {"username": "owner", "password": "pw-for-tests-1"})
    assert response.status_code == 302


def test_a_wrong_password_says_so(client, owner):
    response = client.post("/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_logout_is_a_post_form_in_the_nav(owner_client, project):
    html = owner_client.get(f"/p/{project.pk}/traces").content.decode()
    assert '<form class="logout" method="post" action="/logout/">' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert 'href="/api/docs"' in html
