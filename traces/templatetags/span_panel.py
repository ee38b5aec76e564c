"""The span panel's filters: thin wrappers over traces.render, whose output is already safe HTML."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from traces import render

register = template.Library()


@register.filter
def conversation(span: Any) -> list[tuple[str, list[render.Message]]]:
    """The Messages tab's sides (Input, Output), each from its messages or else its plain text."""
    return render.conversation(
        input_messages=span.input_messages,
        output_messages=span.output_messages,
        input_text=span.input_text,
        output_text=span.output_text,
    )


@register.filter
def json_tree(value: Any) -> SafeString:
    return mark_safe(render.json_tree(value))  # noqa: S308 - every value is escaped by traces.render


@register.filter
def json_copy(value: Any) -> str:
    """Indented JSON text for a copy button's data-copy (autoescaped by the template)."""
    return render.json_text(value)


@register.filter
def markdown(text: Any) -> SafeString:
    return mark_safe(render.fold(render.markdown(str(text or "")), long=render.is_long(str(text or ""))))  # noqa: S308


def _raw(span: Any) -> tuple[dict, list]:
    """The span's attributes and events as received (after redaction), rebuilt by traces.lean from the normalised
    columns and what was kept; computed once per span and rendering."""
    cached = getattr(span, "_raw_as_sent", None)
    if cached is None:
        from traces.lean import raw_attributes, raw_events

        cached = span._raw_as_sent = (raw_attributes(span), raw_events(span))
    return cached


@register.filter
def sent_attributes(span: Any) -> dict:
    return _raw(span)[0]


@register.filter
def sent_events(span: Any) -> list:
    return _raw(span)[1]


@register.filter
def raw_span(span: Any) -> dict[str, Any]:
    """The span as it was sent: identity, timing, status, its attributes and events as received."""
    attributes, events = _raw(span)
    return {
        "trace_id": span.trace.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "kind": span.otel_kind,
        "start_time": span.start_time.isoformat(),
        "end_time": span.end_time.isoformat() if span.end_time else None,
        "status": {"code": span.status, "message": span.error},
        "attributes": attributes,
        "events": events,
        "resource": span.resource,
        "scope": span.scope,
    }
