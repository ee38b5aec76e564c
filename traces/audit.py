"""The audit log: one row per thing worth knowing who did (viewed raw content, changed privacy, retention, roles,
keys, rules, monitors). Callers record; the Audit page and GET /api/v1/audit read (traces.selectors)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

from traces.models import ApiKey, AuditEvent, PersonalToken, Project

# Actions written by Peekr itself; callers may add their own ("<thing>.<verb>").
TRACE_VIEW = "trace.view"
SPAN_VIEW = "span.view"


def _plain(details: dict) -> dict:
    """Details as JSON can store them: dates, decimals and UUIDs as strings (callers pass what they have)."""
    return json.loads(json.dumps(details, cls=DjangoJSONEncoder))


def actor_label(*, actor_user=None, actor_key: ApiKey | None = None, actor_token: PersonalToken | None = None) -> str:
    if actor_user is not None:
        name = actor_user.get_username()
        return f"{name} (token {actor_token.name})" if actor_token is not None else name
    if actor_key is not None:
        return f"key {actor_key.name} ({actor_key.display}…)"
    return "system"


def audit_record(
    *,
    project: Project,
    actor_user=None,
    actor_key: ApiKey | None = None,
    action: str,
    target: str = "",
    details: dict | None = None,
    actor_token: PersonalToken | None = None,
) -> AuditEvent:
    """Write one audit row (one INSERT). ``actor_user`` for a person (in the UI or through a personal token, then
    also ``actor_token``), ``actor_key`` for a project key, neither for Peekr itself (a beat job)."""
    return AuditEvent.objects.create(
        project=project,
        actor_user=actor_user,
        actor_key=actor_key,
        actor_label=actor_label(actor_user=actor_user, actor_key=actor_key, actor_token=actor_token)[:200],
        action=action[:64],
        target=str(target)[:300],
        details=_plain(details or {}),
    )


def audit_request(request, *, project: Project, action: str, target: str = "", details: dict | None = None):
    """audit_record for whoever made this request: the API's actor (traces.access.Actor) or the logged-in user."""
    actor = getattr(request, "actor", None)
    if actor is not None:
        return audit_record(
            project=project,
            actor_user=actor.user,
            actor_key=actor.key,
            actor_token=actor.token,
            action=action,
            target=target,
            details=details,
        )
    user = request.user if getattr(request, "user", None) is not None and request.user.is_authenticated else None
    return audit_record(project=project, actor_user=user, action=action, target=target, details=details)


def audit_label(request) -> str:
    """Who made this request, as the audit log names them ("alice", "alice (token laptop)", "key ci (pk_abc…)")."""
    actor = getattr(request, "actor", None)
    if actor is not None:
        return actor_label(actor_user=actor.user, actor_key=actor.key, actor_token=actor.token)
    user = getattr(request, "user", None)
    return actor_label(actor_user=user) if user is not None and user.is_authenticated else "system"


@dataclass
class AuditPage:
    items: list[AuditEvent]
    next_before: int | None  # pass as before_id for the next (older) page; None on the last


def audit_page(
    *, project: Project, action: str = "", actor: str = "", since=None, until=None, before_id: int | None = None,
    limit: int = 50,
) -> AuditPage:  # fmt: skip
    """The project's audit rows, newest first, one page (keyset on id: stable while rows are written). ``action``
    matches a prefix ("member." for every membership change); ``actor`` the actor's label."""
    rows = AuditEvent.objects.filter(project=project)
    if action:
        rows = rows.filter(action__startswith=action)
    if actor:
        rows = rows.filter(actor_label__icontains=actor)
    if since is not None:
        rows = rows.filter(at__gte=since)
    if until is not None:
        rows = rows.filter(at__lt=until)
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    items = list(rows.order_by("-id")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return AuditPage(items=items, next_before=items[-1].pk if more else None)
