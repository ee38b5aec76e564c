"""Logins: the generated first password (and the "change your password" banner until it is changed), the
password change page, and the client address login throttling (django-axes) counts failures against.

A generated password is recognised by its hash: it is hashed with a salt that starts with GENERATED_SALT_PREFIX.
Every way of changing a password (this page, the admin, `manage.py changepassword`) hashes with a fresh random
salt, so the mark goes away with the password, with no extra table or flag to keep in step. (A Django upgrade
that raises the hasher's iterations re-hashes at the next login, which also drops the mark.)
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.hashers import identify_hasher, make_password
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest
from django.urls import reverse_lazy
from django.utils.crypto import get_random_string

GENERATED_SALT_PREFIX = "peekrgenerated"


def generated_password_hash(raw: str) -> str:
    """The hash to store for a password Peekr generated (and printed once)."""
    return make_password(raw, salt=GENERATED_SALT_PREFIX + get_random_string(24))


def password_is_generated(encoded: str) -> bool:
    """Whether a stored hash is still that of a generated password."""
    try:
        salt = identify_hasher(encoded).decode(encoded).get("salt") or ""
    except ValueError:  # unusable or unknown hash
        return False
    return salt.startswith(GENERATED_SALT_PREFIX)


def password_change_context(request: HttpRequest) -> dict:
    """Template context: base.html shows "change your password" while the generated one is in use."""
    user = getattr(request, "user", None)
    required = bool(user is not None and user.is_authenticated and password_is_generated(user.password))
    return {"password_change_required": required}


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    template_name = "password_change.html"
    success_url = reverse_lazy("traces:home")
    success_message = "Your password was changed."


def client_ip(request: HttpRequest) -> str:
    """The address login failures are counted against. Behind PEEKR_TRUSTED_PROXIES reverse proxies (each
    appending to X-Forwarded-For), it is the address the outermost trusted proxy saw; otherwise REMOTE_ADDR.
    Entries left of that are the client's own claims and are never trusted."""
    hops = settings.PEEKR_TRUSTED_PROXIES
    if hops:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")
