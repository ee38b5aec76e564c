"""JSON API for a project's privacy settings: what ingest redacts before storing a span (traces.privacy)."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Path, Router, Schema

from peekr_web.errors import Invalid, NotFound
from peekr_web.schemas import Error, Id, SafeStr, UtcDatetime
from traces import privacy
from traces.access import Action, api_requires
from traces.redact import PolicyError

router = Router(tags=["privacy"])

PiiAction = Literal["keep", "mask", "tokenise"]


class PiiActions(Schema):
    email: PiiAction = "mask"
    phone: PiiAction = "keep"
    credit_card: PiiAction = "mask"
    iban: PiiAction = "keep"
    ssn: PiiAction = "mask"
    ip: PiiAction = "keep"


class CustomPatternIn(Schema):
    name: SafeStr = Field(..., max_length=32, description="lowercase letters, digits, _; shown as [NAME]")
    pattern: SafeStr = Field(..., max_length=300, description="a Python regular expression")
    action: PiiAction = "mask"


class PrivacyIn(Schema):
    actions: PiiActions = Field(default_factory=PiiActions)
    custom_patterns: list[CustomPatternIn] = Field(default_factory=list, max_length=20)
    drop_keys: list[SafeStr] = Field(default_factory=list, max_length=100, description="attribute keys to remove")
    hash_user_id: bool = True
    hash_session_id: bool = False


class PrivacyOut(Schema):
    project_id: int
    actions: dict[str, str]
    custom_patterns: list[dict]
    drop_keys: list[str]
    hash_user_id: bool
    hash_session_id: bool
    updated_at: UtcDatetime


def _project(request, project_id: int):
    if request.project.pk != project_id:  # another project's settings are not found, whatever the key
        raise NotFound(f"project {project_id} not found")
    return request.project


@router.get("/projects/{project_id}/privacy", response={200: PrivacyOut, 404: Error}, summary="Get privacy settings")
@api_requires(Action.VIEW_TRACES)
def get_privacy(request, project_id: Path[Id]):
    """What ingest does with personal data in this project's spans: per PII kind keep, mask (`[EMAIL]`) or
    tokenise (`[EMAIL:7f3a9c1d]`, stable per project); custom patterns; attribute keys dropped; whether user and
    session ids are hashed. The key's own project only (another is 404)."""
    project = _project(request, project_id)
    return {"project_id": project.pk, **privacy.privacy_settings_out(privacy.privacy_settings_get(project=project))}


@router.put(
    "/projects/{project_id}/privacy",
    response={200: PrivacyOut, 400: Error, 404: Error},
    summary="Change privacy settings",
)
@api_requires(Action.MANAGE_PRIVACY)
def put_privacy(request, project_id: Path[Id], body: PrivacyIn):
    """Replace the settings (applied to spans ingested from now on; stored spans are not rewritten). A custom
    pattern that does not compile, matches the empty string, nests repeats (`(a+)+`), uses back-references or is
    slow on long texts is refused with 400 and the reason. The change is written to the audit log."""
    project = _project(request, project_id)
    actor = request.actor
    try:
        row = privacy.privacy_settings_update(
            project=project,
            actions=body.actions.model_dump(),
            custom_patterns=[p.model_dump() for p in body.custom_patterns],
            drop_keys=list(body.drop_keys),
            hash_user_id=body.hash_user_id,
            hash_session_id=body.hash_session_id,
            actor_user=actor.user,
            actor_key=actor.key,
            actor_token=actor.token,
        )
    except PolicyError as exc:
        raise Invalid(str(exc)) from None
    return {"project_id": project.pk, **privacy.privacy_settings_out(row)}
