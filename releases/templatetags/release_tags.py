from django import template

from releases.report import fmt

register = template.Library()


@register.filter
def metric(value, unit: str) -> str:
    """A comparison figure in its unit: 12.5 %, 840 ms, $0.00120, 0.812; "-" when there is none."""
    return fmt(value, unit or "")
