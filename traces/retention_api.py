"""JSON API for a project's retention: how long span content, flagged traces and records are kept
(traces/retention.py), and the retention job's recent runs."""

from __future__ import annotations

from ninja import Field, Path, Router, Schema

from peekr_web.errors import Invalid, NotFound
from peekr_web.schemas import Error, Id, UtcDatetime
from traces import retention
from traces.access import Action, api_requires
from traces.retention_run import PolicyError, retention_policy_for, retention_policy_set

router = Router(tags=["retention"])


class RetentionIn(Schema):
    content_days: int = Field(retention.DEFAULT_CONTENT_DAYS, ge=1, le=retention.MAX_DAYS, description="span content")
    flagged_days: int = Field(
        retention.DEFAULT_FLAGGED_DAYS, ge=1, le=retention.MAX_DAYS, description="content of flagged traces"
    )
    record_days: int = Field(
        retention.DEFAULT_RECORD_DAYS, ge=1, le=retention.MAX_DAYS, description="traces, scores, findings, rollups"
    )


class RetentionOut(Schema):
    project_id: int
    content_days: int
    flagged_days: int
    record_days: int
    retention_classes: dict[str, int]
    updated_at: UtcDatetime | None


def _out(project, policy) -> dict:
    return {
        "project_id": project.pk,
        "content_days": policy.content_days,
        "flagged_days": policy.flagged_days,
        "record_days": policy.record_days,
        "retention_classes": dict(retention.CLASS_CONTENT_DAYS),
        "updated_at": policy.updated_at if policy.pk else None,
    }


def _project(request, project_id: int):
    if request.project.pk != project_id:  # another project's settings are not found, whatever the key
        raise NotFound(f"project {project_id} not found")
    return request.project


@router.get(
    "/projects/{project_id}/retention", response={200: RetentionOut, 404: Error}, summary="Get retention settings"
)
@api_requires(Action.VIEW_TRACES)
def get_retention(request, project_id: Path[Id]):
    """How long this project keeps span content (default 30 days), the content of flagged traces (a failing
    score, a finding, a user's complaint, a review item; default 90) and traces with their scores, findings and
    rollups (default 365); `retention_classes`: the Peekr SDK classes that shorten a span's content (days)."""
    project = _project(request, project_id)
    return _out(project, retention_policy_for(project))


@router.put(
    "/projects/{project_id}/retention",
    response={200: RetentionOut, 400: Error, 404: Error},
    summary="Change retention settings",
)
@api_requires(Action.MANAGE_PRIVACY)
def put_retention(request, project_id: Path[Id], body: RetentionIn):
    """Replace the three tiers (days, 1 to 3650; content <= flagged <= records, else 400 with the reason). Applied
    by the next retention run (daily). The change is written to the audit log."""
    project = _project(request, project_id)
    actor = request.actor
    try:
        policy = retention_policy_set(
            project=project,
            content_days=body.content_days,
            flagged_days=body.flagged_days,
            record_days=body.record_days,
            actor_user=actor.user,
            actor_key=actor.key,
            actor_token=actor.token,
        )
    except PolicyError as exc:
        raise Invalid(str(exc)) from None
    return _out(project, policy)
