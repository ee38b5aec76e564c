"""What insights adds to the trace page's waterfall, through traces.extensions (registered in ready()): a mark on
each row a finding involves, numbered as the findings partial (views.trace_findings) lists them."""

from __future__ import annotations

from insights.selectors import trace_finding_marks
from traces import extensions
from traces.extensions import Badge


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
