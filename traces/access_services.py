"""Writes of access: members and their roles, invitations, personal API tokens, the project's access settings.

Each records itself in the audit log (traces.audit) with whoever did it (``by``: a user)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from traces.audit import audit_record
from traces.models import ApiKey, Invitation, Membership, PersonalToken, Project, Role

INVITATION_DAYS = 7


class AccessRefused(Exception):
    """A change the rules forbid (removing or demoting the last owner, an expired invitation...)."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- Members ---


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.filter(project_id=membership.project_id, role=Role.OWNER).exclude(pk=membership.pk).exists()
    )


def member_role_change(*, membership: Membership, role: str, by) -> Membership:
    """Give a member another role; the last owner stays an owner. Only an owner makes or unmakes an owner."""
    if role not in Role.values:
        raise AccessRefused(f"unknown role {role!r}")
    with transaction.atomic():
        # Lock the project's owners so two admins demoting the last two owners at once cannot both succeed.
        list(Membership.objects.select_for_update().filter(project_id=membership.project_id, role=Role.OWNER))
        membership.refresh_from_db()
        if membership.role == role:
            return membership
        if Role.OWNER in (role, membership.role) and not _is_owner(by, membership.project_id):
            raise AccessRefused("only an owner can make or unmake an owner")
        if membership.role == Role.OWNER and not _other_owners(membership):
            raise AccessRefused("a project keeps at least one owner: make someone else owner first")
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(project=membership.project, actor_user=by, action="member.role",
                     target=membership.user.get_username(), details={"from": before, "to": role})  # fmt: skip
    return membership


def _is_owner(user, project_id: int) -> bool:
    return Membership.objects.filter(user=user, project_id=project_id, role=Role.OWNER).exists()


def member_remove(*, membership: Membership, by) -> None:
    """Remove a member (never the last owner; only an owner removes an owner)."""
    with transaction.atomic():
        list(Membership.objects.select_for_update().filter(project_id=membership.project_id, role=Role.OWNER))
        membership.refresh_from_db()
        if membership.role == Role.OWNER:
            if not _other_owners(membership):
                raise AccessRefused("a project keeps at least one owner: make someone else owner first")
            if not _is_owner(by, membership.project_id):
                raise AccessRefused("only an owner can remove an owner")
        audit_record(project=membership.project, actor_user=by, action="member.remove",
                     target=membership.user.get_username(), details={"role": membership.role})  # fmt: skip
        membership.delete()


# --- Invitations ---


def invitation_create(*, project: Project, role: str, by, days: int = INVITATION_DAYS) -> tuple[Invitation, str]:
    """A link token (returned once; only its hash is kept) that makes its opener a member with ``role``."""
    if role not in Role.values:
        raise AccessRefused(f"unknown role {role!r}")
    if role == Role.OWNER and not _is_owner(by, project.pk):
        raise AccessRefused("only an owner can invite an owner")
    raw = secrets.token_urlsafe(24)
    invitation = Invitation.objects.create(
        project=project, role=role, token_hash=_hash(raw), created_by=by,
        expires_at=timezone.now() + timedelta(days=days),
    )  # fmt: skip
    audit_record(project=project, actor_user=by, action="invitation.create", target=role,
                 details={"invitation": invitation.pk, "expires_at": invitation.expires_at.isoformat()})  # fmt: skip
    return invitation, raw


def invitation_get(*, raw: str) -> Invitation | None:
    """The open invitation of this link, or None (unknown, used, revoked or expired)."""
    invitation = Invitation.objects.select_related("project").filter(token_hash=_hash(raw)).first()
    return invitation if invitation is not None and invitation.is_open() else None


def invitation_accept(*, raw: str, user) -> Membership:
    """Make ``user`` a member through the link (used once). Someone already a member keeps their role."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().select_related("project").filter(token_hash=_hash(raw))
        invitation = invitation.first()
        if invitation is None or not invitation.is_open():
            raise AccessRefused("this invitation is no longer valid: ask for a new link")
        membership, created = Membership.objects.get_or_create(
            project=invitation.project, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_by = user
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_by", "accepted_at"])
        audit_record(project=invitation.project, actor_user=user, action="invitation.accept",
                     target=user.get_username(), details={"role": membership.role, "new": created})  # fmt: skip
    return membership


def invitation_revoke(*, invitation: Invitation, by) -> None:
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(project=invitation.project, actor_user=by, action="invitation.revoke",
                     target=invitation.role, details={"invitation": invitation.pk})  # fmt: skip


# --- Personal API tokens ---


def token_create(*, user, name: str) -> tuple[PersonalToken, str]:
    """A personal API token for ``user`` (returned once; only its hash is kept)."""
    raw = PersonalToken.generate()
    token = PersonalToken.objects.create(
        user=user, name=name.strip()[:100] or "token", token_hash=ApiKey.hash(raw), display=raw[:10]
    )
    return token, raw


def token_revoke(*, token: PersonalToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


# --- Projects and their access settings ---


def project_access_update(*, project: Project, reviewers_see_explorer: bool, by) -> Project:
    if project.reviewers_see_explorer != reviewers_see_explorer:
        project.reviewers_see_explorer = reviewers_see_explorer
        project.save(update_fields=["reviewers_see_explorer"])
        audit_record(project=project, actor_user=by, action="access.update",
                     details={"reviewers_see_explorer": reviewers_see_explorer})  # fmt: skip
    return project
