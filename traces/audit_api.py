"""GET /api/v1/audit: the project's audit log, for an admin key or an owner's or admin's personal token."""

from datetime import datetime

from ninja import Field, Query, Router, Schema

from peekr_web.schemas import SafeStr, UtcDatetime
from traces.access import Action, api_requires
from traces.audit import audit_page

router = Router(tags=["audit"])


class AuditQuery(Schema):
    action: SafeStr = Field("", description="an action, or its prefix: `member.` for every membership change")
    actor: SafeStr = Field("", description="part of the actor's name")
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    before: int | None = Field(None, description="`next_before` of the previous page")
    limit: int = Field(50, ge=1, le=500)


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: str
    actor_user: str | None
    actor_key: str | None
    action: str
    target: str
    details: dict


class AuditListOut(Schema):
    items: list[AuditEventOut]
    next_before: int | None


@router.get("/audit", response=AuditListOut, summary="The audit log")
@api_requires(Action.VIEW_AUDIT)
def list_audit(request, q: Query[AuditQuery]):
    """Who viewed raw trace content, who changed privacy, retention, roles, keys, rules and monitors; newest
    first, `next_before` pages on."""
    page = audit_page(
        project=request.project, action=q.action, actor=q.actor, since=q.since, until=q.until,
        before_id=q.before, limit=q.limit,
    )  # fmt: skip
    users = {e.actor_user_id for e in page.items if e.actor_user_id}
    names = {}
    if users:
        from django.contrib.auth import get_user_model

        names = dict(get_user_model().objects.filter(pk__in=users).values_list("pk", "username"))
    return {
        "items": [
            {
                "id": e.pk,
                "at": e.at,
                "actor": e.actor_label,
                "actor_user": names.get(e.actor_user_id),
                "actor_key": str(e.actor_key_id) if e.actor_key_id else None,
                "action": e.action,
                "target": e.target,
                "details": e.details,
            }  # fmt: skip
            for e in page.items
        ],
        "next_before": page.next_before,
    }
