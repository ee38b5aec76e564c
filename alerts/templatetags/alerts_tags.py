from django import template

from alerts.payload import fmt
from metrics.accumulators import metric_def

register = template.Library()


@register.filter
def metric_fmt(value, metric: str) -> str:
    """A metric's value in its unit: 61.0 %, 1,240 ms, $0.0123, 0.830."""
    definition = metric_def(metric or "")
    return fmt(value, definition.unit if definition else "")


@register.filter
def unit_fmt(value, unit: str) -> str:
    return fmt(value, unit or "")


@register.filter
def metric_label(metric: str) -> str:
    definition = metric_def(metric or "")
    return definition.label if definition else metric
