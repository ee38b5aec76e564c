"""Formatting for the trace explorer: durations, money, tokens, and user data made readable (never |safe)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.forms.models import model_to_dict

from traces.waterfall import format_ms

register = template.Library()


@register.filter
def at(mapping: Any, key: Any) -> Any:
    """mapping[key], or an empty list when missing: e.g. the badges the apps above traces put on a waterfall row."""
    try:
        return mapping.get(key, [])
    except AttributeError:
        return []


@register.filter
def duration(ms: float | None) -> str:
    return format_ms(ms)


@register.filter
def usd(cost: float | None) -> str:
    """Dollars with as many decimals as a per-call LLM cost needs: $1.2346, $0.0123, $0.000123."""
    if cost is None:
        return "—"
    if cost == 0:
        return "$0"
    if cost < 0.000001:
        return "<$0.000001"
    if cost < 0.01:
        return f"${cost:.6f}"
    if cost < 1000:
        return f"${cost:.4f}"
    return f"${cost:,.2f}"


@register.filter
def tokens(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n:,}"


@register.filter
def iso(value: datetime | None) -> str:
    """Absolute UTC time with milliseconds, for title attributes and detail headers."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:  # whatever else a JSON field could hold after a bad write: show it, don't fail
            return str(o)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, cls=_Encoder)


@register.filter
def pretty_json(value: Any) -> str:
    """JSON text re-indented; anything else that is not a string dumped as JSON; other strings as they are."""
    if isinstance(value, str):
        try:
            return _dumps(json.loads(value))
        except ValueError:
            return value
    return _dumps(value)


def _text_of(content: Any) -> str:
    """Message content as text: a string, or a list of parts ({"type": "text", "text"/"content": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict):
                text = part.get("text", part.get("content"))
                if isinstance(text, str):
                    pieces.append(text)
                else:
                    pieces.append(_dumps(part))
            else:
                pieces.append(_dumps(part))
        return "\n".join(pieces)
    return _dumps(content)


def _tool_call(call: Any) -> dict[str, str]:
    # Both shapes: normalised {"name", "arguments"} and OpenAI's {"function": {"name", "arguments"}}.
    if not isinstance(call, dict):
        return {"name": "", "arguments": pretty_json(call), "id": ""}
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    return {
        "name": str(fn.get("name") or ""),
        "arguments": pretty_json(fn.get("arguments", "")) if fn.get("arguments") not in (None, "") else "",
        "id": str(call.get("id") or ""),
    }


ROLES = ("system", "user", "assistant", "tool")


@register.filter
def chat(messages: Any) -> list[dict[str, Any]]:
    """Messages as chat bubbles: role (one of ROLES or "other"), text, tool calls, the tool call answered."""
    if not isinstance(messages, list):
        return []
    out = []
    for msg in messages:
        if not isinstance(msg, dict):
            out.append({"role": "other", "label": "message", "text": _text_of(msg), "tool_calls": []})
            continue
        role = str(msg.get("role") or "")
        calls = msg.get("tool_calls") or []
        out.append(
            {
                "role": role if role in ROLES else "other",
                "label": role or "message",
                "name": str(msg.get("name") or ""),
                "text": _text_of(msg.get("content")),
                "tool_calls": [_tool_call(c) for c in calls] if isinstance(calls, list) else [],
                "tool_call_id": str(msg.get("tool_call_id") or ""),
            }
        )
    return out


@register.filter
def kv_rows(mapping: Any) -> list[tuple[str, str]]:
    """A dict as sorted (key, value) rows; nested values as compact JSON."""
    if not isinstance(mapping, dict):
        return []
    rows = []
    for key in sorted(mapping, key=str):
        value = mapping[key]
        rows.append((str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)))
    return rows


@register.filter
def documents(docs: Any) -> list[dict[str, Any]]:
    if not isinstance(docs, list):
        return []
    out = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            out.append({"id": str(i), "score": None, "content": _text_of(doc), "metadata": ""})
            continue
        metadata = doc.get("metadata")
        out.append(
            {
                "id": str(doc.get("id") or i),
                "score": doc.get("score"),
                "content": _text_of(doc.get("content")),
                "metadata": _dumps(metadata) if metadata else "",
            }
        )
    return out


@register.filter
def scores(sdk_scores: Any) -> list[dict[str, Any]]:
    """SDK scores with their well-known fields pulled out and everything else kept as details."""
    if not isinstance(sdk_scores, list):
        return []
    out = []
    for score in sdk_scores:
        if not isinstance(score, dict):
            out.append({"evaluator": "", "value": score, "label": "", "passed": None, "details": ""})
            continue
        known = ("evaluator", "name", "value", "score", "passed", "label", "details")
        details = score.get("details")
        rest = {k: v for k, v in score.items() if k not in known}
        if details not in (None, "", {}, []):
            rest = {"details": details, **rest} if rest else details
        out.append(
            {
                "evaluator": str(score.get("evaluator") or score.get("name") or ""),
                "value": score.get("value", score.get("score")),
                "label": str(score.get("label") or ""),
                "passed": score.get("passed"),
                "details": (rest if isinstance(rest, str) else _dumps(rest)) if rest else "",
            }
        )
    return out


@register.filter
def score_groups(span: Any) -> list[dict[str, Any]]:
    """Peekr's own evaluations, then the scores the SDK computed in the user's process, kept apart."""
    groups = []
    evaluated = getattr(span, "eval_scores", None) or []
    shadow = [s for s in evaluated if isinstance(s, dict) and s.get("mode") == "shadow"]  # evals' shadow rules
    live = [s for s in evaluated if s not in shadow]
    if live:
        groups.append({"source": "Peekr", "note": "Evaluations Peekr ran on this span.", "rows": live})
    if shadow:
        note = "Shadow evaluations: stored and shown here, never routed, alerted on or gated."
        groups.append({"source": "Peekr", "shadow": True, "note": note, "rows": shadow})
    if span.sdk_scores:
        groups.append(
            {
                "source": "SDK",
                "note": "Computed in your process by the Peekr SDK and sent with the span.",
                "rows": scores(span.sdk_scores),
            }
        )
    return groups


@register.filter
def span_json(span: Any) -> str:
    """The whole span as pretty JSON, as stored: what a user pastes into a bug report."""
    data = model_to_dict(span)
    data.pop("id", None)
    data["project"] = span.project_id
    data["trace"] = span.trace.trace_id if "trace" in span._state.fields_cache else span.trace_id
    data["received_at"] = span.received_at
    return _dumps(data)


@register.filter
def span_tabs(span: Any) -> list[tuple[str, str]]:
    """The detail sections this span has content for, in display order; the first one opens."""
    tabs = []
    if span.input_messages or span.output_messages:
        tabs.append(("messages", "Messages"))
    elif span.input_text or span.output_text:
        tabs.append(("messages", "Input / Output"))
    if span.documents:
        tabs.append(("documents", f"Documents ({len(span.documents)})"))
    if span.tool_name or span.tool_arguments or span.tool_result:
        tabs.append(("tool", "Tool"))
    n_scores = len(span.sdk_scores or []) + len(getattr(span, "eval_scores", None) or [])
    if n_scores:
        tabs.append(("scores", f"Scores ({n_scores})"))
    tabs.append(("attributes", "Attributes"))
    tabs.append(("raw", "Raw JSON"))
    return tabs
