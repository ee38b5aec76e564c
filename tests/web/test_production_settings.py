"""Production security settings are switched on by environment variables alone (peekr_web/settings.py), and the
laptop default answers to local host names only. Each case imports the settings in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PEEKR_PUBLIC_URL": "https://peekr.example.com",
    "PEEKR_HSTS_SECONDS": "31536000",
    "PEEKR_HSTS_INCLUDE_SUBDOMAINS": "1",
    "PEEKR_HSTS_PRELOAD": "1",
    "PEEKR_SSL_REDIRECT": "1",
    "PEEKR_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def clean_env(tmp_path, **env) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PEEKR_")}
    return {**base, "PEEKR_DATA_DIR": str(tmp_path), **env}


def read_settings(tmp_path, *names, **env) -> dict:
    code = f"import json, peekr_web.settings as s; print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean_env(tmp_path, **env), cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_laptop_default_answers_local_names_only_and_plain_http(tmp_path):
    got = read_settings(
        tmp_path, "ALLOWED_HOSTS", "PEEKR_PUBLIC_URL", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT",
    )  # fmt: skip
    assert got == {
        "ALLOWED_HOSTS": ["localhost", "127.0.0.1", "[::1]"],
        "PEEKR_PUBLIC_URL": "http://localhost:8000",
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_SSL_REDIRECT": False,
    }


def test_the_production_variables_switch_everything_on(tmp_path):
    got = read_settings(
        tmp_path, "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT", **PRODUCTION,
    )  # fmt: skip
    assert got == {
        "ALLOWED_HOSTS": ["localhost", "127.0.0.1", "[::1]", "peekr.example.com"],
        "CSRF_TRUSTED_ORIGINS": ["https://peekr.example.com"],
        "SESSION_COOKIE_SECURE": True,  # implied by the https:// public URL
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
    }


def test_djangos_deployment_check_passes_with_the_production_variables_and_not_without(tmp_path):
    def check(**env):
        cmd = [sys.executable, "manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"]
        return subprocess.run(cmd, env=clean_env(tmp_path, **env), cwd=ROOT, capture_output=True, text=True)

    production = check(**PRODUCTION)
    assert production.returncode == 0, production.stderr
    laptop = check()
    assert laptop.returncode != 0
    assert "security.W012" in laptop.stderr and "security.W004" in laptop.stderr


def test_explicit_hosts_and_origins_replace_and_extend_the_defaults(tmp_path):
    got = read_settings(
        tmp_path, "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SESSION_COOKIE_SECURE",
        PEEKR_ALLOWED_HOSTS="peekr.internal, .example.org", PEEKR_CSRF_TRUSTED_ORIGINS="https://a.example.org",
        PEEKR_PUBLIC_URL="http://peekr.internal:8000/", PEEKR_SECURE_COOKIES="1",
    )  # fmt: skip
    assert got == {
        "ALLOWED_HOSTS": ["peekr.internal", ".example.org"],
        "CSRF_TRUSTED_ORIGINS": ["https://a.example.org", "http://peekr.internal:8000"],
        "SESSION_COOKIE_SECURE": True,
    }


@pytest.mark.parametrize("url", ["peekr.example.com", "ftp://peekr.example.com", "https://"])
def test_a_public_url_that_is_not_an_http_url_is_refused_at_start(tmp_path, url):
    out = subprocess.run(
        [sys.executable, "-c", "import peekr_web.settings"],
        env=clean_env(tmp_path, PEEKR_PUBLIC_URL=url),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "ImproperlyConfigured: PEEKR_PUBLIC_URL must be an http(s):// URL" in out.stderr
