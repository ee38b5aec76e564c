"""What insights adds to the explorer through traces.extensions (registered in ready()): a mark on each waterfall
row a finding involves, numbered as the findings partial (views.trace_findings) lists them; the trace list's
"has finding" filter (any detector, or one)."""

from __future__ import annotations

from django import forms

from insights.detectors import DETECTORS
from insights.models import Finding
from insights.selectors import trace_finding_marks
from traces import extensions
from traces.extensions import Badge, TraceListFilter


def _finding_fields() -> dict:
    choices = [("", "Findings: any"), ("any", "Has a finding")] + [(d, f"Finding: {d}") for d, _ in DETECTORS]
    return {"finding": forms.ChoiceField(required=False, choices=choices)}


def _finding_matching(*, project, data: dict):
    """Traces with a finding (of this detector), as a subquery of trace pks; None when unused."""
    detector = data.get("finding") or ""
    if not detector:
        return None
    findings = Finding.objects.filter(project=project)
    if detector != "any":
        findings = findings.filter(detector=detector)
    return findings.values("trace_id")


def span_finding_marks(trace, spans: list) -> dict[str, list[Badge]]:
    """One query for the trace's findings (none while it is in progress)."""
    marks = trace_finding_marks(trace=trace)
    if not marks:
        return {}
    badges = {}
    for span in spans:
        numbers = marks.get(span.span_id)
        if numbers:
            badges[span.span_id] = [
                Badge("wf-finding", f"⚑ {numbers}", f"In insight {numbers} of this trace", "has-finding")
            ]
    return badges


def register() -> None:
    extensions.span_decorator_register(span_finding_marks, order=20)
    extensions.trace_list_filter_register(
        TraceListFilter("findings", _finding_fields, _finding_matching, "insights/_trace_list_filter.html")
    )
