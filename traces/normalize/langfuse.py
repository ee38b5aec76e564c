"""Langfuse's OpenTelemetry attributes (its Python/JS SDKs v3+, and anything written for its OTel endpoint).

``langfuse.observation.type`` (generation -> llm, span, event -> span, agent, tool, chain, retriever,
embedding, evaluator, guardrail); ``langfuse.observation.input/output`` (JSON-serialised values);
``langfuse.observation.model.name``; ``langfuse.observation.usage_details`` / ``cost_details`` (JSON
objects: input/output/total); ``langfuse.observation.completion_start_time`` (for the time to first
token); ``langfuse.observation.prompt.version``; ``langfuse.observation.level`` (ERROR makes the span an
error, with ``langfuse.observation.status_message``); ``langfuse.session.id`` / ``session.id``,
``langfuse.user.id`` / ``user.id``; ``langfuse.release``, else ``langfuse.version``, as the release;
``langfuse.trace.input/output`` as a root span's text when it has no observation input/output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from traces.normalize.common import (
    as_float,
    as_int,
    as_text,
    compact,
    content_text,
    message_from_openai,
    messages_from_openai,
    parse_json,
)
from traces.normalize.types import RawSpan

NAME = "langfuse"

OBSERVATION_KINDS = {
    "generation": "llm",
    "span": "span",
    "event": "span",
    "agent": "agent",
    "tool": "tool",
    "chain": "chain",
    "retriever": "retriever",
    "embedding": "embedding",
    "evaluator": "evaluator",
    "guardrail": "guardrail",
}
_GATE = frozenset(
    (
        "langfuse.observation.type",
        "langfuse.observation.input",
        "langfuse.observation.output",
        "langfuse.observation.model.name",
        "langfuse.observation.usage_details",
        "langfuse.observation.level",
        "langfuse.session.id",
        "langfuse.user.id",
        "langfuse.release",
        "langfuse.version",
        "langfuse.trace.name",
        "langfuse.trace.input",
    )
)
_INPUT_USAGE = ("input", "prompt_tokens", "input_tokens", "promptTokens")
_OUTPUT_USAGE = ("output", "completion_tokens", "output_tokens", "completionTokens")
_TOTAL_USAGE = ("total", "total_tokens", "totalTokens")


def _value(raw_value: Any) -> Any:
    """The Langfuse SDKs JSON-serialise non-string values; a string stays as it was sent."""
    if not isinstance(raw_value, str):
        return raw_value
    parsed = parse_json(raw_value)
    return raw_value if parsed is None else parsed


def _messages(value: Any, *, output: bool) -> tuple[list[dict[str, Any]], str]:
    """(messages, text) from an observation input/output: chat messages when it holds some, else text."""
    if isinstance(value, list):
        msgs = messages_from_openai(value)
        if msgs:
            return msgs, ""
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            msgs = messages_from_openai(value["messages"])
            if msgs:
                return msgs, ""
        single = message_from_openai(value) if output else None
        if single:
            return [single], ""
        choices = value.get("choices") if output else None
        if isinstance(choices, list):
            msgs = messages_from_openai([c.get("message") for c in choices if isinstance(c, dict)])
            if msgs:
                return msgs, ""
    if isinstance(value, str):
        return [], value
    return [], content_text(value) if isinstance(value, list) else as_text(value)


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        if key in data:
            value = as_int(data[key])
            if value is not None:
                return value
    return None


def _ttft_ms(raw: RawSpan, value: Any) -> float | None:
    text = _value(value)
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = moment.timestamp() * 1000 - raw.start_ns / 1e6
    return ms if ms >= 0 else None


def extract(raw: RawSpan) -> dict[str, Any]:
    attrs = raw.attributes
    if _GATE.isdisjoint(attrs):
        return {}
    get = attrs.get
    input_messages, input_text = _messages(_value(get("langfuse.observation.input")), output=False)
    output_messages, output_text = _messages(_value(get("langfuse.observation.output")), output=True)
    if not input_messages and not input_text and "langfuse.trace.input" in attrs:
        input_messages, input_text = _messages(_value(attrs["langfuse.trace.input"]), output=False)
    if not output_messages and not output_text and "langfuse.trace.output" in attrs:
        output_messages, output_text = _messages(_value(attrs["langfuse.trace.output"]), output=True)

    usage = _value(get("langfuse.observation.usage_details"))
    usage = usage if isinstance(usage, dict) else {}
    costs = _value(get("langfuse.observation.cost_details"))
    cost = None
    if isinstance(costs, dict):
        cost = as_float(costs.get("total"))
        if cost is None:
            parts = [v for v in (as_float(x) for x in costs.values()) if v is not None]
            cost = sum(parts) if parts else None

    status = error = ""
    if as_text(get("langfuse.observation.level")).upper() == "ERROR":
        status, error = "error", as_text(get("langfuse.observation.status_message")) or "level ERROR"
    return compact(
        {
            "kind": OBSERVATION_KINDS.get(as_text(get("langfuse.observation.type")).lower()),
            "model": as_text(get("langfuse.observation.model.name")),
            "input_messages": input_messages,
            "output_messages": output_messages,
            "input_text": input_text,
            "output_text": output_text,
            "input_tokens": _pick(usage, _INPUT_USAGE),
            "output_tokens": _pick(usage, _OUTPUT_USAGE),
            "total_tokens": _pick(usage, _TOTAL_USAGE),
            "cost": cost,
            "status": status,
            "error": error,
            "session_id": as_text(get("langfuse.session.id") or get("session.id")),
            "user_id": as_text(get("langfuse.user.id") or get("user.id")),
            "release": as_text(get("langfuse.release") or get("langfuse.version")),
            "prompt_version": as_text(get("langfuse.observation.prompt.version")),
            "ttft_ms": _ttft_ms(raw, get("langfuse.observation.completion_start_time"))
            if "langfuse.observation.completion_start_time" in attrs
            else None,
        }
    )
