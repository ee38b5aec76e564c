"""The OTLP endpoint the keys and onboarding pages show comes from PEEKR_PUBLIC_URL, never from the request's Host
header; a Host outside ALLOWED_HOSTS is refused."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_keys_page_shows_the_configured_url_whatever_the_host_header(owner_client, project, settings):
    settings.PEEKR_PUBLIC_URL = "https://peekr.example.com"
    settings.ALLOWED_HOSTS = ["*"]  # even a Host that gets through is not echoed

    html = owner_client.get(f"/p/{project.pk}/settings/keys", HTTP_HOST="evil.example").content.decode()
    owner_client.post(f"/p/{project.pk}/settings/keys", {"name": "ci"})
    new_key = owner_client.get(f"/p/{project.pk}/settings/keys", HTTP_HOST="evil.example").content.decode()

    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=https://peekr.example.com/" in new_key
    assert "evil.example" not in html and "evil.example" not in new_key


def test_the_onboarding_snippet_shows_it_too(owner_client, project, settings):
    settings.PEEKR_PUBLIC_URL = "https://peekr.example.com"
    settings.ALLOWED_HOSTS = ["*"]

    html = owner_client.get(f"/p/{project.pk}/traces", HTTP_HOST="evil.example").content.decode()

    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=https://peekr.example.com/" in html
    assert 'endpoint="https://peekr.example.com/"' in html
    assert "evil.example" not in html


def test_an_unknown_host_is_refused(owner_client, project, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]  # the laptop default

    assert owner_client.get(f"/p/{project.pk}/settings/keys", HTTP_HOST="evil.example").status_code == 400
    assert owner_client.get(f"/p/{project.pk}/settings/keys", HTTP_HOST="localhost:8000").status_code == 200
