"""A project's privacy settings: reading them as a compiled Policy (traces.redact) for ingest, changing them, and
turning a raw user or session id into what is stored, for searches.

Every project has a PrivacySettings row: project_create makes it, migration 00xx_privacy made one for each project
older than this module, and policy_for makes one on the spot for a project created some other way. Its defaults
are the safe ones (emails, cards and SSNs masked, user ids hashed): there is no "off until configured".
"""

from __future__ import annotations

import secrets as pysecrets
import time
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from traces import secrets
from traces.audit import audit_record
from traces.models import PrivacySettings, Project
from traces.redact import (
    DEFAULT_ACTIONS,
    OFF,
    Policy,
    PolicyError,
    id_token,
    is_id_token,
    policy_build,
)

# project pk -> (updated_at, Policy): decrypting the key and compiling custom patterns once per change, not per batch.
_POLICIES: dict[int, tuple[Any, Policy]] = {}


def privacy_settings_create(*, project: Project) -> PrivacySettings:
    """The project's settings row with the defaults and a new random key (idempotent)."""
    try:
        with transaction.atomic():
            return PrivacySettings.objects.create(
                project=project, actions=dict(DEFAULT_ACTIONS), secret=secrets.encrypt(pysecrets.token_hex(32))
            )
    except IntegrityError:  # made meanwhile by a concurrent batch
        return PrivacySettings.objects.get(project=project)


def privacy_settings_get(*, project: Project) -> PrivacySettings:
    row = PrivacySettings.objects.filter(project=project).first()
    return row if row is not None else privacy_settings_create(project=project)


def _key(row: PrivacySettings) -> bytes:
    plain = secrets.decrypt(row.secret)
    if plain is None:
        # PEEKR_SECRETS_KEY / SECRET_KEY changed: tokens cannot stay stable. Refuse rather than mint new ones
        # that would silently split every user's history in two.
        raise PolicyError("the privacy key cannot be decrypted: PEEKR_SECRETS_KEY or SECRET_KEY changed")
    return plain.encode()


def policy_of(row: PrivacySettings) -> Policy:
    cached = _POLICIES.get(row.project_id)
    if cached is not None and cached[0] == row.updated_at:
        return cached[1]
    policy = policy_build(
        key=_key(row),
        actions=row.actions,
        custom_patterns=row.custom_patterns,
        drop_keys=row.drop_keys,
        hash_user_id=row.hash_user_id,
        hash_session_id=row.hash_session_id,
    )
    _POLICIES[row.project_id] = (row.updated_at, policy)
    return policy


def policy_for(project: Project, *, enabled: bool = True) -> Policy:
    """The project's Policy (one indexed read). ``enabled=False`` (PEEKR_REDACT_AT_INGEST off: bench only) is OFF."""
    if not enabled:
        return OFF
    return policy_of(privacy_settings_get(project=project))


def privacy_settings_update(
    *,
    project: Project,
    actions: dict[str, str],
    custom_patterns: list[dict],
    drop_keys: list[str],
    hash_user_id: bool,
    hash_session_id: bool,
    actor_user=None,
    actor_key=None,
    actor_token=None,
) -> PrivacySettings:
    """Validate and store new settings (PolicyError with the reason when they cannot apply), audit the change.

    Only spans ingested from now on are affected: what is stored is not rewritten (a mask cannot be undone,
    and re-redacting months of spans is a job of its own)."""
    row = privacy_settings_get(project=project)
    policy_build(
        key=b"validate",
        actions=actions,
        custom_patterns=custom_patterns,
        drop_keys=drop_keys,
        hash_user_id=hash_user_id,
        hash_session_id=hash_session_id,
    )
    before = privacy_settings_out(row)
    row.actions = {**DEFAULT_ACTIONS, **actions}
    row.custom_patterns = [
        {"name": p["name"], "pattern": p["pattern"], "action": p.get("action", "mask")} for p in custom_patterns
    ]
    row.drop_keys = sorted({k.strip() for k in drop_keys if k.strip()})
    row.hash_user_id = hash_user_id
    row.hash_session_id = hash_session_id
    row.updated_at = timezone.now()
    _CUSTOM.pop(project.pk, None)
    with transaction.atomic():
        row.save()
        after = privacy_settings_out(row)
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        audit_record(
            project=project,
            actor_user=actor_user,
            actor_key=actor_key,
            actor_token=actor_token,
            action="privacy.update",
            target=f"project:{project.pk}",
            details=changed,
        )
    return row


def privacy_settings_out(row: PrivacySettings) -> dict:
    """The settings as the API and the page show them (never the key)."""
    return {
        "actions": {**DEFAULT_ACTIONS, **(row.actions or {})},
        "custom_patterns": list(row.custom_patterns or []),
        "drop_keys": list(row.drop_keys or []),
        "hash_user_id": row.hash_user_id,
        "hash_session_id": row.hash_session_id,
        "updated_at": row.updated_at,
    }


def stored_ids(*, project: Project, what: str, value: str) -> list[str]:
    """What a search for this user id (what="user") or session id (what="session") must match: the value as
    typed (a token copied from the UI, or an id stored before hashing was on) and, when the project hashes that
    id, its token."""
    if not value or is_id_token(what, value):
        return [value] if value else []
    row = privacy_settings_get(project=project)
    if not (row.hash_user_id if what == "user" else row.hash_session_id):
        return [value]
    return [value, id_token(policy_of(row).key, what, value)]


CUSTOM_PATTERNS_TTL = 30.0  # seconds: the PII rule runs per trace; a settings change reaches it within this
_CUSTOM: dict[int, tuple[float, list[dict]]] = {}


def custom_patterns_of(*, project_id: int) -> list[dict]:
    """The project's custom patterns, for the PII rule (which flags what they match in stored spans)."""
    now = time.monotonic()
    cached = _CUSTOM.get(project_id)
    if cached is not None and now - cached[0] < CUSTOM_PATTERNS_TTL:
        return cached[1]
    row = PrivacySettings.objects.filter(project_id=project_id).only("custom_patterns").first()
    patterns = list(row.custom_patterns or []) if row is not None else []
    _CUSTOM[project_id] = (now, patterns)
    return patterns
