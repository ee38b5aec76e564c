"""Template filters for the Insights pages and the trace page's findings."""

from __future__ import annotations

from typing import Any

from django import template

from traces.waterfall import format_ms

register = template.Library()


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """mapping[key], or "" when missing: e.g. the finding numbers marked on a waterfall row."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def saving(ms: float | None) -> str:
    """Time saved, as durations read: 480 ms, 4.80 s, 2m 05s; "—" when the fix saves money, not time."""
    return format_ms(ms) if ms else "—"


@register.filter
def money(usd: float | None) -> str:
    """Money saved: $1,234.56 from a dollar, else four decimals ($0.0123), "$0" for nothing."""
    if not usd:
        return "$0"
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd < 0.0001:
        return "<$0.0001"
    return f"${usd:.4f}"


@register.filter
def detector_label(detector_id: str) -> str:
    return (detector_id or "").replace("_", " ")
