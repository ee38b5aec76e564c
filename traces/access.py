"""The one answer to "may this user or key do X in this project".

People act through their role in the project (traces.models.Role); project keys through their scope
(traces.models.KeyScope); a personal API token acts as its user, with that user's role in the project asked about.
HTML views declare the action they need with ``@requires(Action.X)`` (refusals answer the outsider's 404); API
operations with ``@api_requires(Action.X)`` under the router's decorator (refusals answer 403). The matrix test
(tests/traces/test_access_matrix.py) walks every URL and every API operation and fails on one that declares none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import wraps

from django.http import Http404, HttpRequest
from django.utils import timezone

from traces.models import ApiKey, KeyScope, Membership, PersonalToken, Project, Role


class Action(StrEnum):
    VIEW_TRACES = "view_traces"  # the explorer, sessions, dashboards, insights, evaluations, metrics; API reads
    VIEW_RAW = "view_raw_content"  # a trace's or span's content (audited)
    INGEST = "ingest"  # send spans, feedback, guard checks, read the SDK's compliance config
    VIEW_REVIEW = "view_review"  # queues, their items and progress, golden sets, runs, calibration
    REVIEW = "review"  # claim, label, release, skip queue items
    MANAGE_REVIEW = "manage_review"  # queues, routing, golden sets, promotion, taxonomy, regression runs
    MANAGE_RULES = "manage_rules"  # evaluation rules, judges, detectors, signals, regressions
    MANAGE_MONITORS = "manage_monitors"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_KEYS = "manage_keys"
    MANAGE_PRIVACY = "manage_privacy"  # privacy, retention and the project's access settings
    VIEW_AUDIT = "view_audit"
    MEMBER = "member"  # any member: the project's landing page, one's own membership


_ENGINEER = {
    Action.MEMBER,
    Action.VIEW_REVIEW,
    Action.VIEW_TRACES,
    Action.VIEW_RAW,
    Action.INGEST,
    Action.REVIEW,
    Action.MANAGE_REVIEW,
    Action.MANAGE_RULES,
    Action.MANAGE_MONITORS,
}
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.ADMIN: frozenset(Action),
    Role.ENGINEER: frozenset(_ENGINEER),
    # Only what review needs: the queues and the content of the traces in them. VIEW_TRACES is added by the
    # project's reviewers_see_explorer setting.
    Role.REVIEWER: frozenset({Action.MEMBER, Action.VIEW_RAW, Action.VIEW_REVIEW, Action.REVIEW}),
    Role.VIEWER: frozenset({Action.MEMBER, Action.VIEW_TRACES, Action.VIEW_RAW, Action.VIEW_REVIEW}),
}
# A key is not a person: it never reviews (review actions need a personal token) and never manages members.
KEY_SCOPES: dict[str, frozenset[Action]] = {
    KeyScope.INGEST: frozenset({Action.INGEST}),
    KeyScope.READ: frozenset({Action.VIEW_TRACES, Action.VIEW_RAW, Action.VIEW_REVIEW}),
    KeyScope.ADMIN: frozenset(Action) - {Action.REVIEW, Action.MANAGE_MEMBERS},
}
LAST_USE_EVERY = timedelta(minutes=1)


def role_can(role: str, action: str, project: Project | None = None) -> bool:
    if role == Role.REVIEWER and action == Action.VIEW_TRACES:
        return bool(project is not None and project.reviewers_see_explorer)
    return action in ROLE_ACTIONS.get(role, ())


def scope_can(scope: str, action: str) -> bool:
    return action in KEY_SCOPES.get(scope, ())


@dataclass
class Actor:
    """Who is calling the API: a project key, or a person through a personal token (with their role here)."""

    project: Project
    key: ApiKey | None = None
    user: object | None = None
    token: PersonalToken | None = None
    role: str = ""

    def can(self, action: str) -> bool:
        if self.key is not None:
            return scope_can(self.key.scope, action)
        return role_can(self.role, action, self.project)

    def __bool__(self) -> bool:  # ninja treats a falsy auth result as "not authenticated"
        return True


def can(who, action: str, project: Project) -> bool:
    """May this user (a membership is looked up), Membership, ApiKey or Actor do ``action`` in ``project``?"""
    if isinstance(who, Actor):
        return who.project.pk == project.pk and who.can(action)
    if isinstance(who, ApiKey):
        return who.project_id == project.pk and who.is_active and scope_can(who.scope, action)
    if isinstance(who, Membership):
        return who.project_id == project.pk and role_can(who.role, action, project)
    if who is None or not getattr(who, "is_authenticated", False):
        return False
    role = Membership.objects.filter(user=who, project=project).values_list("role", flat=True).first()
    return role is not None and role_can(role, action, project)


# --- HTML views ---


def membership_for(request: HttpRequest, project_id: int, action: str = Action.MEMBER) -> Membership:
    """The user's membership (with its project) when they may do ``action`` there; else the outsider's 404.
    Read once per request: @requires and the view body share it."""
    cached = getattr(request, "_peekr_membership", None)
    if cached is not None and cached.project_id == int(project_id):
        membership = cached
    else:
        user = request.user
        membership = None
        if user.is_authenticated:
            membership = Membership.objects.select_related("project").filter(user=user, project_id=project_id).first()
        if membership is None:
            raise Http404("No such project")
        request._peekr_membership = membership
    if not role_can(membership.role, action, membership.project):
        raise Http404("No such page")
    return membership


def requires(action: str, *, post: str | None = None):
    """Declare (and check, before the view runs) what a project view needs, and with ``post`` what its POST
    needs; the view reads the membership with ``membership_for(request, project_id)`` at no further cost."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            needed = post if post is not None and request.method == "POST" else action
            membership_for(request, kwargs["project_id"], needed)
            return view(request, *args, **kwargs)

        wrapped.access_action = action
        wrapped.access_post_action = post or action
        return wrapped

    return decorate


def trace_visible(membership_or_actor, trace) -> bool:
    """Whether this member (or API caller) may open this trace: anyone who may browse the explorer; a reviewer
    who may not, only a trace in one of the project's review queues."""
    from traces import extensions

    if isinstance(membership_or_actor, Actor):
        if membership_or_actor.can(Action.VIEW_TRACES):
            return True
    elif role_can(membership_or_actor.role, Action.VIEW_TRACES, membership_or_actor.project):
        return True
    return extensions.trace_in_review(trace.project_id, trace.pk)


def can_in_view(membership: Membership, action: str) -> bool:
    """For templates' buttons: whether this membership may do ``action`` (the view still checks on POST)."""
    return role_can(membership.role, action, membership.project)


# --- The API ---


def _touch(model, obj, now) -> None:
    """Record a key's or token's last use at most once a minute: one UPDATE, not one per request."""
    if obj.last_used_at is None or now - obj.last_used_at >= LAST_USE_EVERY:
        model.objects.filter(pk=obj.pk).update(last_used_at=now)
        obj.last_used_at = now


def key_authenticate(raw_key: str, public_key: str | None = None) -> ApiKey | None:
    """The active project key (with its project), recording its use; with public_key (a Basic key pair) only
    when it is that key's public part."""
    if not raw_key or raw_key.startswith(PersonalToken.PREFIX):
        return None
    key = (
        ApiKey.objects.select_related("project")
        .filter(key_hash=ApiKey.hash(raw_key), revoked_at__isnull=True)
        .only("id", "project", "public_key", "scope", "last_used_at", "name", "display", "revoked_at")
        .first()
    )
    if key is None or (public_key is not None and not key.public_matches(public_key)):
        return None
    _touch(ApiKey, key, timezone.now())
    return key


def token_authenticate(raw: str) -> PersonalToken | None:
    if not raw or not raw.startswith(PersonalToken.PREFIX):
        return None
    token = (
        PersonalToken.objects.select_related("user")
        .filter(token_hash=ApiKey.hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is not None:
        _touch(PersonalToken, token, timezone.now())
    return token


class ProjectRequired(Exception):
    """A personal token without X-Peekr-Project, for a user in several projects."""


def actor_for(request: HttpRequest, raw: str) -> Actor | None:
    """The API caller: a project key (its project), or a personal token and the project named by the
    ``X-Peekr-Project`` header (an id; optional for someone in one project only). None: not authenticated."""
    key = key_authenticate(raw)
    if key is not None:
        return Actor(project=key.project, key=key)
    token = token_authenticate(raw)
    if token is None:
        return None
    memberships = Membership.objects.select_related("project").filter(user=token.user)
    wanted = request.headers.get("X-Peekr-Project", "").strip()
    if wanted:
        membership = memberships.filter(project_id=int(wanted)).first() if wanted.isdigit() else None
        if membership is None:
            return None
    else:
        found = list(memberships[:2])
        if len(found) != 1:
            raise ProjectRequired("this token's user is in several projects: say which in the X-Peekr-Project header")
        membership = found[0]
    return Actor(project=membership.project, user=token.user, token=token, role=membership.role)


def api_requires(action: str):
    """Declare what an API operation needs. ProjectKey (peekr_web.api) checks it right after authenticating, before
    the operation's input is parsed, so a refused caller learns nothing from validation errors; an operation
    that declares nothing is refused. Put it under ``@router.get(...)``."""
    from ninja.decorators import decorate_view

    def mark(run):
        # A run decorator (ninja's decorate_view) survives the copies ninja makes of an operation when it mounts
        # a router, where an attribute set on the operation would not.
        @wraps(run)
        def marked(request, *args, **kwargs):
            request.access_action = action
            return run(request, *args, **kwargs)

        return marked

    def decorate(func):
        func.access_action = action
        return decorate_view(mark)(func)

    return decorate


def refusal(actor: Actor, action: str | None) -> str | None:
    """Why this caller may not run an operation needing ``action`` (None: it may)."""
    if action is None:
        return "this operation declares no access: refused"
    if actor.can(action):
        return None
    if actor.key is not None and action == Action.REVIEW:
        return "review actions act as a person: use a personal API token"
    who = "this key's scope" if actor.key is not None else f"your role ({actor.role})"
    return f"{who} does not allow {action}"


def api_user(request):
    """The person behind an API call (a personal token's user), or None for a project key."""
    actor = getattr(request, "actor", None)
    return actor.user if actor is not None else None
