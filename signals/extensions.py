"""What signals adds to the trace explorer through traces.extensions (registered in ready()): the trace list's
filter by signal kind. The trace and session pages load signals' partials with htmx."""

from __future__ import annotations

from django import forms

from signals.models import SignalKind
from signals.selectors import trace_pks_with_kind
from traces import extensions
from traces.extensions import TraceListFilter


def _fields() -> dict:
    return {"signal": forms.ChoiceField(required=False, choices=[("", "Any signal"), *SignalKind.choices])}


def _matching(*, project, data: dict):
    kind = data.get("signal") or ""
    return trace_pks_with_kind(project=project, kind=kind) if kind else None


def register() -> None:
    extensions.trace_list_filter_register(
        TraceListFilter("signals", _fields, _matching, "signals/_trace_list_filter.html")
    )
