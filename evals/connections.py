"""Which judge endpoint a rule calls, and with which key: the endpoint and its key always travel together.

- A rule without a connection uses the operator's judge: PEEKR_JUDGE_BASE_URL with PEEKR_JUDGE_API_KEY. The
  operator's key goes to the operator's URL and nowhere else.
- A rule with a ``JudgeConnection`` uses the project's own endpoint with the project's own key (stored
  encrypted, never shown again), through a client that connects to public addresses only unless the
  operator set PEEKR_JUDGE_ALLOW_PRIVATE=1 (evals.judge_net). Only project owners and admins register one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from evals import secrets
from evals.judge_net import url_refusal
from evals.models import EvalRule, JudgeConnection
from traces.models import Project

OPERATOR = "operator"


class JudgeConnectionInvalid(ValueError):
    """A judge connection that cannot be registered or removed; the message says why."""


@dataclass(frozen=True)
class JudgeEndpoint:
    base_url: str
    api_key: str = field(repr=False)
    model: str
    guarded: bool  # connect to public addresses only
    source: str  # OPERATOR, or the connection's name
    unreadable: str = ""  # why the key cannot be used (e.g. the secrets key changed)

    @property
    def fix_key_hint(self) -> str:
        if self.source == OPERATOR:
            return "fix PEEKR_JUDGE_API_KEY"
        return f"fix the key of judge connection “{self.source}” (Evaluations → Judge connections)"


def rule_judge(rule: EvalRule) -> JudgeEndpoint:
    """The endpoint, key and model a rule's judges use."""
    model = rule.judge_model or settings.PEEKR_JUDGE_MODEL
    conn = rule.judge_connection
    if conn is None:
        return JudgeEndpoint(
            base_url=settings.PEEKR_JUDGE_BASE_URL,
            api_key=settings.PEEKR_JUDGE_API_KEY,
            model=model,
            guarded=False,
            source=OPERATOR,
        )
    key = secrets.decrypt(conn.api_key_encrypted)
    return JudgeEndpoint(
        base_url=conn.base_url,
        api_key=key or "",
        model=model,
        guarded=not settings.PEEKR_JUDGE_ALLOW_PRIVATE,
        source=conn.name,
        unreadable=""
        if key is not None
        else f"the key of judge connection “{conn.name}” cannot be decrypted "
        "(PEEKR_SECRETS_KEY or SECRET_KEY changed): register it again",
    )


def judge_missing(rule: EvalRule) -> str:
    """Why this rule's judges cannot run, or "" when they can."""
    judge = rule_judge(rule)
    if judge.unreadable:
        return judge.unreadable
    if not judge.base_url or not judge.model:
        if judge.source == OPERATOR:
            return "No judge configured: set PEEKR_JUDGE_BASE_URL and PEEKR_JUDGE_MODEL (or pick a judge connection)."
        return "No judge model: set the rule's judge model or PEEKR_JUDGE_MODEL."
    return ""


def judge_connection_create(*, project: Project, user, name: str, base_url: str, api_key: str) -> JudgeConnection:
    name, base_url = name.strip(), base_url.strip().rstrip("/")
    if not name:
        raise JudgeConnectionInvalid("a judge connection needs a name")
    if JudgeConnection.objects.filter(project=project, name=name).exists():
        raise JudgeConnectionInvalid(f"a judge connection named {name!r} already exists")
    refusal = url_refusal(base_url, allow_private=settings.PEEKR_JUDGE_ALLOW_PRIVATE)
    if refusal:
        raise JudgeConnectionInvalid(f"judge URL refused: {refusal}")
    return JudgeConnection.objects.create(
        project=project,
        name=name,
        base_url=base_url,
        api_key_encrypted=secrets.encrypt(api_key.strip()),
        key_hint=secrets.hint(api_key.strip()),
        created_by=user if getattr(user, "pk", None) else None,
    )


def judge_connection_delete(*, connection: JudgeConnection) -> None:
    with transaction.atomic():
        users = list(connection.rules.values_list("name", flat=True)[:5])
        if users:
            raise JudgeConnectionInvalid(
                f"judge connection {connection.name!r} is used by {', '.join(users)}: point those rules elsewhere first"
            )
        connection.delete()


def judge_connection_for(*, project: Project, connection_id: int | None) -> JudgeConnection | None:
    """The project's connection with this id (None for None); another project's id is refused, not followed."""
    if connection_id is None:
        return None
    conn = JudgeConnection.objects.filter(project=project, pk=connection_id).first()
    if conn is None:
        raise JudgeConnectionInvalid(f"no judge connection {connection_id} in this project")
    return conn


def judge_connections(*, project: Project) -> list[JudgeConnection]:
    """The project's connections by name, each with ``n_rules`` (the rules that use it)."""
    rows = JudgeConnection.objects.filter(project=project).select_related("created_by")
    return list(rows.annotate(n_rules=Count("rules")).order_by("name"))
