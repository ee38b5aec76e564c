"""Trace-row fields the explorer filters and previews on, computed in traces_refresh (traces.services).

- environment: a span's resource ``deployment.environment.name`` / ``deployment.environment``, else its
  ``langfuse.environment`` attribute (the greatest value when spans disagree).
- tags: the union of the spans' ``tag.tags`` (OpenInference) and ``langfuse.trace.tags`` attributes, stored as
  ``|a|b|`` (see Trace.tags).
- input / output previews of a trace whose root has none of its own (an HTTP span such as ``POST /v1/answer``
  around the app's LLM calls): the first LLM call's input and the last LLM call's output, by start time. Peekr's
  own spans (``is_internal``, the judge's calls) never stand in.
"""

from __future__ import annotations

import json

from django.db.models import Max, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Substr

from traces.models import Span

PREVIEW_CHARS = 300
TAGS_CHARS = 500


def label_aggregates() -> dict:
    """Expressions to add to traces_refresh's grouped read of spans (one row per trace)."""
    return {
        "environment": Max(
            Coalesce(
                KT("resource__deployment.environment.name"),
                KT("resource__deployment.environment"),
                KT("attributes__langfuse.environment"),
            )
        ),
        "tags_oi": Max(KT("attributes__tag.tags")),
        "tags_lf": Max(KT("attributes__langfuse.trace.tags")),
    }


def _tag_values(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        value = [value]
    return [str(v).strip().replace("|", "/") for v in value if str(v).strip()]


def tags_text(*raws: str | None) -> str:
    """``|a|b|`` from JSON arrays (or comma-separated strings), sorted and distinct, cut to whole tags."""
    tags = sorted({t for raw in raws for t in _tag_values(raw)})
    out = "|"
    for tag in tags:
        if len(out) + len(tag) + 1 > TAGS_CHARS:
            break
        out += tag + "|"
    return out if tags else ""


def llm_io(*, trace_pks: list[int]) -> dict[int, tuple[str, str]]:
    """{trace pk: (first LLM call's input, last LLM call's output)}, previews, for traces whose root has none."""
    if not trace_pks:
        return {}
    rows = (
        Span.objects.filter(trace_id__in=trace_pks, kind="llm", is_internal=False)
        .filter(~Q(input_text="") | ~Q(output_text=""))
        .order_by("start_time", "id")
        .values_list("trace_id")
        .annotate(inp=Substr("input_text", 1, PREVIEW_CHARS), out=Substr("output_text", 1, PREVIEW_CHARS))
    )
    found: dict[int, tuple[str, str]] = {}
    for tpk, inp, out in rows:
        first, last = found.get(tpk, ("", ""))
        found[tpk] = (first or inp or "", out or last)
    return found
