"""Access pages: members and invitations, personal API tokens, the audit log, creating a project.

Members, invitations and the project's access setting need manage_members (owners and admins); the audit log
view_audit. Refusals answer the outsider's 404, like every project page (traces.access.requires).
"""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from peekr_web.errors import sentence
from traces import selectors
from traces.access import Action, membership_for, requires, role_can
from traces.access_services import (
    AccessRefused,
    invitation_accept,
    invitation_create,
    invitation_get,
    invitation_revoke,
    member_remove,
    member_role_change,
    project_access_update,
    token_create,
    token_revoke,
)
from traces.audit import audit_page
from traces.models import Invitation, Membership, PersonalToken, Role
from traces.services import project_create

NEW_SECRET_SESSION = "peekr_new_secret"
NEW_SECRET_SECONDS = 120
AUDIT_PER_PAGE = 50


def _hold(request: HttpRequest, kind: str, value: str) -> None:
    """Carry a secret shown once (a token, an invitation link) across the redirect, server-side."""
    request.session[NEW_SECRET_SESSION] = {"kind": kind, "value": value, "at": time.time()}


def _pop(request: HttpRequest, kind: str) -> str:
    held = request.session.get(NEW_SECRET_SESSION)
    if not held or held.get("kind") != kind:
        return ""
    del request.session[NEW_SECRET_SESSION]
    return "" if time.time() - held.get("at", 0) > NEW_SECRET_SECONDS else held["value"]


def _page(request: HttpRequest, template: str, context: dict, membership: Membership | None = None):
    context.setdefault("nav_projects", selectors.user_projects(user=request.user))
    if membership is not None:
        context.update(membership=membership, project=membership.project)
    response = render(request, template, context)
    if context.get("secret"):
        response["Cache-Control"] = "no-store"
    return response


# --- Members ---


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ENGINEER)


@login_required
@require_GET
@requires(Action.MANAGE_MEMBERS)
def members(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    project = membership.project
    invite_path = _pop(request, f"invite:{project.pk}")
    context = {
        "members": list(Membership.objects.filter(project=project).select_related("user").order_by("user__username")),
        "invitations": list(
            Invitation.objects.filter(project=project, accepted_at__isnull=True, revoked_at__isnull=True)
            .select_related("created_by")
            .order_by("-created_at")
        ),
        "roles": Role.choices,
        "invite_form": InviteForm(),
        "secret": f"{settings.PEEKR_PUBLIC_URL}{invite_path}" if invite_path else "",
        "is_owner": membership.role == Role.OWNER,
        "can_manage_privacy": role_can(membership.role, Action.MANAGE_PRIVACY),
    }
    return _page(request, "traces/members.html", context, membership)


def _member(membership: Membership, member_id: int) -> Membership:
    found = Membership.objects.select_related("user", "project").filter(project=membership.project, pk=member_id)
    found = found.first()
    if found is None:
        raise Http404("No such member")
    return found


@login_required
@require_POST
@requires(Action.MANAGE_MEMBERS)
def member_role(request: HttpRequest, project_id: int, member_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    target = _member(membership, member_id)
    try:
        member_role_change(membership=target, role=request.POST.get("role", ""), by=request.user)
    except AccessRefused as exc:
        messages.error(request, sentence(exc))
    else:
        messages.success(request, f"{target.user.get_username()} is now {target.role}.")
    return redirect("traces:members", project_id=project_id)


@login_required
@require_POST
@requires(Action.MANAGE_MEMBERS)
def member_delete(request: HttpRequest, project_id: int, member_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    target = _member(membership, member_id)
    try:
        member_remove(membership=target, by=request.user)
    except AccessRefused as exc:
        messages.error(request, sentence(exc))
    else:
        messages.success(request, f"{target.user.get_username()} was removed from the project.")
    return redirect("traces:members", project_id=project_id)


@login_required
@require_POST
@requires(Action.MANAGE_MEMBERS)
def invite(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            _, raw = invitation_create(project=membership.project, role=form.cleaned_data["role"], by=request.user)
        except AccessRefused as exc:
            messages.error(request, sentence(exc))
        else:
            _hold(request, f"invite:{membership.project.pk}", reverse("traces:invitation", args=[raw]))
    return redirect("traces:members", project_id=project_id)


@login_required
@require_POST
@requires(Action.MANAGE_MEMBERS)
def invite_revoke(request: HttpRequest, project_id: int, invitation_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    invitation = Invitation.objects.filter(project=membership.project, pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation")
    invitation_revoke(invitation=invitation, by=request.user)
    messages.success(request, "Invitation revoked: its link no longer works.")
    return redirect("traces:members", project_id=project_id)


@login_required
@require_POST
@requires(Action.MANAGE_PRIVACY)
def access_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    project_access_update(
        project=membership.project, reviewers_see_explorer=bool(request.POST.get("reviewers_see_explorer")),
        by=request.user,
    )  # fmt: skip
    messages.success(request, "Access settings saved.")
    return redirect("traces:members", project_id=project_id)


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: logged in, a button to join; otherwise a sign-up form (or a link to log in)."""
    found = invitation_get(raw=token)
    if found is None:
        return render(request, "traces/invitation.html", {"invalid": True}, status=404)
    signup = None
    if request.method == "POST":
        user = request.user if request.user.is_authenticated else None
        if user is None:
            signup = UserCreationForm(request.POST)
            if signup.is_valid():
                try:
                    user = signup.save()
                except IntegrityError:
                    signup.add_error("username", "That username is taken.")
                    user = None
        if user is not None:
            try:
                invitation_accept(raw=token, user=user)
            except AccessRefused as exc:
                messages.error(request, str(exc))
                return redirect("traces:home")
            if not request.user.is_authenticated:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"You joined {found.project.name} as {found.role}.")
            return redirect("traces:project_home", project_id=found.project_id)
    context = {"invitation": found, "signup": signup or UserCreationForm(), "token": token}
    return render(request, "traces/invitation.html", context)


# --- Projects ---


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest) -> HttpResponse:
    """Any signed-in person may start a project; they own it, and its first (ingest-only) key is shown once."""
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"].strip()
        from traces.models import Project

        if Project.objects.filter(name=name).exists():
            form.add_error("name", "A project with that name exists.")
        else:
            from traces.views import NEW_KEY_SESSION

            project, raw = project_create(name=name, owner=request.user)
            key = project.api_keys.get()
            request.session[NEW_KEY_SESSION] = {
                "project": project.pk, "key": raw, "public": key.public_key, "at": time.time(),
            }  # fmt: skip
            messages.success(request, f"Project “{project.name}” created. Its ingest key is below, shown once.")
            return redirect("traces:keys", project_id=project.pk)
    return _page(request, "traces/project_new.html", {"form": form})


# --- Personal API tokens ---


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. laptop"}))


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """Your personal API tokens: they act as you, with your role in each project."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _, raw = token_create(user=request.user, name=form.cleaned_data["name"])
        _hold(request, "token", raw)
        return redirect("traces:tokens")
    context = {
        "tokens": list(PersonalToken.objects.filter(user=request.user).order_by("revoked_at", "-created_at")),
        "form": form,
        "secret": _pop(request, "token") if request.method == "GET" else "",
        "base_url": settings.PEEKR_PUBLIC_URL,
    }
    return _page(request, "traces/tokens.html", context)


@login_required
@require_POST
def token_delete(request: HttpRequest, token_id: int) -> HttpResponse:
    token = PersonalToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise Http404("No such token")
    token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("traces:tokens")


# --- Audit log ---


@login_required
@require_GET
@requires(Action.VIEW_AUDIT)
def audit(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    try:
        before = int(request.GET.get("before", "") or 0) or None
    except ValueError:
        before = None
    action, actor = request.GET.get("action", "")[:64], request.GET.get("actor", "")[:200]
    page = audit_page(project=membership.project, action=action, actor=actor, before_id=before, limit=AUDIT_PER_PAGE)
    context = {"events": page.items, "next_before": page.next_before, "action": action, "actor": actor}
    return _page(request, "traces/audit.html", context, membership)
