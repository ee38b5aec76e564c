"""Writes of regressions: open (from a hook or by hand), change (owner, status, severity), notify.

    regression_open(project, source, key, release, ...)     under a lock on the key's rows:
        an open one on that release           -> adds the traces (seen_again)
        else the newest closed one of the key:
            fixed, on a later release         -> reopens it (recurred on release X; channels told)
            fixed / won't fix, same release   -> adds the traces; the status stays
        else                                  -> a new regression (opened; channels told)
    A race between two openers is settled by the partial unique constraint: the loser retries and finds the
    winner's row.

"Later" is read from the releases' first deploys (metrics' Deploy rows, the first trace of a release makes
one); when either release has none, any release the regression was not seen on counts as later. An unknown
release ("", an alert with no release in sight) recurs whenever the regression was fixed before.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from peekr_web.errors import Invalid
from regressions import notify, selectors
from regressions.models import MAX_TRACES, Regression, RegressionEvent
from regressions.severity import worst
from traces.models import Membership

log = logging.getLogger(__name__)

ATTEMPTS = 3
# Status changes people may make; anything else answers 400 with the reason.
TRANSITIONS = {
    Regression.Status.OPEN: {Regression.Status.INVESTIGATING, Regression.Status.FIXED, Regression.Status.WONT_FIX},
    Regression.Status.INVESTIGATING: {Regression.Status.OPEN, Regression.Status.FIXED, Regression.Status.WONT_FIX},
    Regression.Status.FIXED: {Regression.Status.OPEN},
    Regression.Status.WONT_FIX: {Regression.Status.OPEN},
}


class RegressionInvalid(Invalid, ValueError):
    """A change that cannot be made (an owner who is not a member, a status that cannot follow)."""


def _merge_traces(old: list[str], new: list[str]) -> list[str]:
    merged = [t for t in dict.fromkeys([*new, *old]) if t]
    return merged[:MAX_TRACES]


def _event(regression: Regression, *, kind: str, now: datetime, user=None, note: str = "", changes=None) -> None:
    RegressionEvent.objects.create(
        regression=regression, at=now, user=user, kind=kind, note=note[:300], changes=changes or {}
    )


def _is_later(project, release: str, regression: Regression) -> bool:
    if not release or not regression.release:
        return True
    if release in regression.releases:
        return False
    seen = selectors.releases_first_seen(project=project, versions=[release, *regression.releases])
    if release in seen and all(v in seen for v in regression.releases):
        return seen[release] > max(seen[v] for v in regression.releases)
    return True


def regression_open(
    *,
    project,
    source: str,
    key: str,
    title: str,
    severity: str,
    release: str = "",
    baseline_release: str = "",
    evaluator: str = "",
    drop: float | None = None,
    details: dict[str, Any] | None = None,
    trace_ids: list[str] | None = None,
    alert=None,
    regression_run=None,
    source_url: str = "",
    now: datetime | None = None,
) -> tuple[Regression, str]:
    """Open a regression for (source, key, release), or add to the one that exists (see the module docstring).
    Returns it and what happened: "opened", "recurred", "seen_again"."""
    now = now or timezone.now()
    release = release[:100]
    fields = {
        "title": title[:300],
        "severity": severity,
        "evaluator": evaluator[:200],
        "baseline_release": baseline_release[:100],
        "drop": drop,
        "details": details or {},
        "alert": alert,
        "regression_run": regression_run,
        "source_url": source_url[:2000],
    }
    traces = [str(t)[:64] for t in trace_ids or []]
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                regression, outcome = _open_locked(project, source, key, release, fields, traces, now)
            break
        except IntegrityError:  # another opener won the race; its row is there now
            if attempt == ATTEMPTS - 1:
                raise
    if outcome in ("opened", "recurred"):
        notify.regression_notify(regression=regression, recurred=outcome == "recurred", now=now)
    return regression, outcome


def _open_locked(project, source, key, release, fields, traces, now) -> tuple[Regression, str]:
    rows = Regression.objects.select_for_update().filter(project=project, source=source, key=key)
    current = rows.filter(release=release, status__in=Regression.OPEN_STATES).first()
    if current is None:
        closed = rows.exclude(status__in=Regression.OPEN_STATES).order_by("-updated_at", "-pk").first()
        if closed is not None and (release in closed.releases and release):
            current = closed  # the same release again: its traces join, the decision stands
        elif closed is not None and closed.status == Regression.Status.FIXED and _is_later(project, release, closed):
            return _recur(closed, release, fields, traces, now), "recurred"
    if current is not None:
        current.trace_ids = _merge_traces(current.trace_ids, traces)
        current.occurrences += 1
        current.last_seen_at = current.updated_at = now
        current.details = fields["details"] or current.details
        current.save(update_fields=["trace_ids", "occurrences", "last_seen_at", "updated_at", "details"])
        _event(current, kind="seen_again", now=now, note=f"seen again on release {release or '(unknown)'}"
               + ("" if current.is_open else f"; stays {current.get_status_display()}"))  # fmt: skip
        return current, "seen_again"
    regression = Regression.objects.create(
        project=project,
        source=source,
        key=key[:200],
        release=release,
        releases=[release] if release else [],
        trace_ids=_merge_traces([], traces),
        created_at=now,
        updated_at=now,
        last_seen_at=now,
        **fields,
    )
    _event(regression, kind="opened", now=now, note=f"opened by {regression.get_source_display()}"
           + (f" on release {release}" if release else ""))  # fmt: skip
    return regression, "opened"


def _recur(regression: Regression, release: str, fields: dict, traces: list[str], now: datetime) -> Regression:
    old = {"status": regression.status, "release": regression.release, "severity": regression.severity}
    regression.status = Regression.Status.OPEN
    regression.release = release
    if release and release not in regression.releases:
        regression.releases = [*regression.releases, release]
    regression.severity = worst(regression.severity, fields["severity"])
    for f in ("drop", "details", "baseline_release"):
        setattr(regression, f, fields[f])
    regression.alert = fields["alert"] or regression.alert
    regression.regression_run = fields["regression_run"] or regression.regression_run
    regression.source_url = fields["source_url"] or regression.source_url
    regression.trace_ids = _merge_traces(regression.trace_ids, traces)
    regression.occurrences += 1
    regression.fixed_at = None
    regression.last_seen_at = regression.updated_at = now
    regression.save()
    changes = {k: [v, getattr(regression, k)] for k, v in old.items() if v != getattr(regression, k)}
    _event(regression, kind="recurred", now=now, note=f"recurred on release {release or '(unknown)'}", changes=changes)
    return regression


def regression_create(
    *,
    project,
    title: str,
    severity: str,
    user=None,
    owner: str | None = None,
    release: str = "",
    evaluator: str = "",
    trace_ids: list[str] | None = None,
    now: datetime | None = None,
) -> Regression:
    """A regression filed by hand (the API): its own key, so it never merges with an automatic one."""
    import uuid

    now = now or timezone.now()
    owner_user = _member(project, owner) if owner else None
    if severity not in Regression.Severity.values:
        raise RegressionInvalid(f"severity must be one of {', '.join(Regression.Severity.values)}")
    with transaction.atomic():
        regression, _ = regression_open(
            project=project,
            source=Regression.Source.MANUAL,
            key=f"manual:{uuid.uuid4().hex}",
            title=title,
            severity=severity,
            release=release,
            evaluator=evaluator,
            trace_ids=trace_ids,
            now=now,
        )
        if owner_user is not None:
            regression_update(regression=regression, user=user, owner=owner, now=now)
        if user is not None:
            RegressionEvent.objects.filter(regression=regression, kind="opened").update(user=user)
    return regression


def _member(project, username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not Membership.objects.filter(project=project, user=user).exists():
        raise RegressionInvalid(f"{username!r} is not a member of this project")
    return user


UNSET: Any = object()


def regression_update(
    *,
    regression: Regression,
    user=None,
    owner: str | None = UNSET,
    status: str | None = None,
    severity: str | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> Regression:
    """Assign (a member's username, or None to unassign), move the status along TRANSITIONS, change the severity
    or the title; every change is a line of the history."""
    now = now or timezone.now()
    changes: list[tuple[str, Any, Any, str]] = []
    with transaction.atomic():
        regression = Regression.objects.select_for_update(of=("self",)).select_related("owner").get(pk=regression.pk)
        if owner is not UNSET:
            new_owner = _member(regression.project, owner) if owner else None
            if new_owner != regression.owner:
                old = regression.owner.username if regression.owner else None
                changes.append(("owner", old, owner or None, f"owner: {old or 'nobody'} -> {owner or 'nobody'}"))
                regression.owner = new_owner
        if status is not None and status != regression.status:
            _check_transition(regression, status)
            changes.append(("status", regression.status, status, f"status: {regression.status} -> {status}"))
            regression.status = status
            regression.fixed_at = now if status == Regression.Status.FIXED else None
        elif status is not None:
            raise RegressionInvalid(f"the regression is already {regression.get_status_display()}")
        if severity is not None and severity != regression.severity:
            if severity not in Regression.Severity.values:
                raise RegressionInvalid(f"severity must be one of {', '.join(Regression.Severity.values)}")
            changes.append(
                ("severity", regression.severity, severity, f"severity: {regression.severity} -> {severity}")
            )
            regression.severity = severity
        if title is not None and title.strip() and title != regression.title:
            changes.append(("title", regression.title, title[:300], "title changed"))
            regression.title = title[:300]
        if not changes:
            return regression
        regression.updated_at = now
        regression.save()
        for field, old, new, note in changes:
            _event(regression, kind=field, now=now, user=user, note=note, changes={field: [old, new]})
    return regression


def _check_transition(regression: Regression, status: str) -> None:
    if status not in Regression.Status.values:
        raise RegressionInvalid(f"status must be one of {', '.join(Regression.Status.values)}")
    allowed = TRANSITIONS[regression.status]
    if status not in allowed:
        raise RegressionInvalid(
            f"a {regression.get_status_display()} regression can only become "
            f"{' or '.join(sorted(allowed))}; reopen it first"
        )
    if status in Regression.OPEN_STATES and not regression.is_open:
        clash = (
            Regression.objects.filter(
                project=regression.project_id, source=regression.source, key=regression.key,
                release=regression.release, status__in=Regression.OPEN_STATES,
            ).exclude(pk=regression.pk).values_list("pk", flat=True).first()
        )  # fmt: skip
        if clash is not None:
            raise RegressionInvalid(f"regression {clash} is already open for this on release {regression.release}")
