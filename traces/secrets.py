"""Secrets Peekr keeps for a project (a judge connection's API key, a privacy HMAC key), encrypted at rest with Fernet.

The encryption key is PEEKR_SECRETS_KEY when set (any string; rotate by re-registering the connections), else
one derived from SECRET_KEY. Either way a database dump alone does not give the keys away. A token that no
longer decrypts (the key changed) reads as None and the caller says so; nothing guesses.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = settings.PEEKR_SECRETS_KEY or f"peekr-secrets:{settings.SECRET_KEY}"
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str | None:
    """The plain text, "" for an empty token, None when the token cannot be read with today's key."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def hint(plain: str) -> str:
    """The last four characters, for people to tell keys apart: "…f3a9"."""
    return f"…{plain[-4:]}" if len(plain) >= 8 else ("…" if plain else "")
