"""The project's Retention settings page (owners and admins edit; every member reads), and its recent runs."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from traces import retention, selectors
from traces.access import Action, membership_for, requires, role_can
from traces.retention_run import PolicyError, retention_policy_for, retention_policy_set, retention_runs_recent


class RetentionForm(forms.Form):
    content_days = forms.IntegerField(min_value=1, max_value=retention.MAX_DAYS, label="Span content")
    flagged_days = forms.IntegerField(min_value=1, max_value=retention.MAX_DAYS, label="Flagged traces")
    record_days = forms.IntegerField(min_value=1, max_value=retention.MAX_DAYS, label="Traces, scores and rollups")


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.MEMBER, post=Action.MANAGE_PRIVACY)
def retention_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    """Show the project's retention; POST changes it (audited) and redirects."""
    membership = membership_for(request, project_id)
    project = membership.project
    policy = retention_policy_for(project)
    form = RetentionForm(
        initial={
            "content_days": policy.content_days,
            "flagged_days": policy.flagged_days,
            "record_days": policy.record_days,
        }  # fmt: skip
    )
    if request.method == "POST":
        form = RetentionForm(request.POST)
        if form.is_valid():
            try:
                retention_policy_set(project=project, **form.cleaned_data, actor_user=request.user)
            except PolicyError as exc:
                for error in exc.errors:
                    form.add_error(None, error)
            else:
                messages.success(request, "Retention saved. It applies from the next run (daily).")
                return redirect("traces:retention", project_id=project.pk)
    context = {
        "membership": membership,
        "project": project,
        "policy": policy,
        "form": form,
        "can_edit": role_can(membership.role, Action.MANAGE_PRIVACY, project),
        "classes": sorted(retention.CLASS_CONTENT_DAYS.items()),
        "runs": retention_runs_recent(5),
        "nav_projects": selectors.user_projects(user=request.user),
    }
    return render(request, "traces/retention.html", context, status=400 if form.errors else 200)
