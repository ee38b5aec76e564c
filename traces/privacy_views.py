"""The project's Privacy settings page: what ingest redacts before storing a span (owners and admins edit; every
member reads)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from traces import privacy, selectors
from traces.access import Action, membership_for, requires, role_can
from traces.pii import KINDS
from traces.redact import ACTIONS, LABELS, PolicyError

KIND_NAMES = {
    "email": "Email addresses",
    "phone": "Phone numbers",
    "credit_card": "Payment card numbers (Luhn-checked)",
    "iban": "IBANs (mod-97 checked)",
    "ssn": "National ids (US SSN)",
    "ip": "IP addresses",
}
ACTION_CHOICES = [("keep", "Keep"), ("mask", "Mask"), ("tokenise", "Tokenise")]


class PrivacyForm(forms.Form):
    hash_user_id = forms.BooleanField(required=False, label="Hash user ids")
    hash_session_id = forms.BooleanField(required=False, label="Hash session ids")
    drop_keys = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "http.request.header.authorization"}),
        help_text="One attribute key a line: removed wherever it occurs.",
    )
    custom_patterns = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "order_id mask ORD-[0-9]{8}"}),
        help_text="One a line: name, action (keep, mask or tokenise), regex.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in KINDS:
            self.fields[f"action_{kind}"] = forms.ChoiceField(choices=ACTION_CHOICES, label=KIND_NAMES[kind])

    def clean_custom_patterns(self) -> list[dict]:
        out = []
        for n, line in enumerate(self.cleaned_data["custom_patterns"].splitlines(), 1):
            if not line.strip():
                continue
            parts = line.strip().split(None, 2)
            if len(parts) != 3 or parts[1] not in ACTIONS:
                raise forms.ValidationError(f"line {n}: write a name, an action (keep, mask or tokenise), a regex")
            out.append({"name": parts[0], "action": parts[1], "pattern": parts[2]})
        return out

    def clean_drop_keys(self) -> list[str]:
        return [k.strip() for k in self.cleaned_data["drop_keys"].splitlines() if k.strip()]


def _initial(out: dict) -> dict:
    return {
        **{f"action_{k}": v for k, v in out["actions"].items()},
        "hash_user_id": out["hash_user_id"],
        "hash_session_id": out["hash_session_id"],
        "drop_keys": "\n".join(out["drop_keys"]),
        "custom_patterns": "\n".join(f"{p['name']} {p['action']} {p['pattern']}" for p in out["custom_patterns"]),
    }


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.MEMBER, post=Action.MANAGE_PRIVACY)
def privacy_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    """Show the project's privacy settings; POST changes them (audited) and redirects."""
    membership = membership_for(request, project_id)
    project = membership.project
    out = privacy.privacy_settings_out(privacy.privacy_settings_get(project=project))
    form = PrivacyForm(initial=_initial(out))
    if request.method == "POST":
        form = PrivacyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                privacy.privacy_settings_update(
                    project=project,
                    actions={k: data[f"action_{k}"] for k in KINDS},
                    custom_patterns=data["custom_patterns"],
                    drop_keys=data["drop_keys"],
                    hash_user_id=data["hash_user_id"],
                    hash_session_id=data["hash_session_id"],
                    actor_user=request.user,
                )
            except PolicyError as exc:
                form.add_error("custom_patterns", str(exc))
            else:
                messages.success(request, "Privacy settings saved. They apply to spans received from now on.")
                return redirect("traces:privacy", project_id=project.pk)
    context = {
        "membership": membership,
        "project": project,
        "settings": out,
        "form": form,
        "kinds": [(k, KIND_NAMES[k], LABELS[k], form[f"action_{k}"]) for k in KINDS],
        "can_edit": role_can(membership.role, Action.MANAGE_PRIVACY, project),
        "api_example": json.dumps({"actions": out["actions"]}),
        "nav_projects": selectors.user_projects(user=request.user),
        "section": "privacy",
    }
    return render(request, "traces/privacy.html", context, status=400 if form.errors else 200)
