"""OpenLLMetry / Traceloop: what it adds to the GenAI conventions, and its legacy flat keys.

Current (0.62): messages and usage are GenAI semconv (read by ``genai``); this adds ``llm.request.type``,
``gen_ai.usage.total_tokens``, ``traceloop.span.kind`` (workflow/task -> chain, agent, tool),
``traceloop.entity.name/input/output`` (input is JSON ``{"args": [...], "kwargs": {...}}``, output the
JSON of the return value), ``traceloop.association.properties.session_id/user_id``,
``traceloop.prompt.version``, and the ``gen_ai.content.completion.chunk`` span events of a stream.
Legacy (0.54 and earlier): ``gen_ai.prompt.N.role/content/tool_call_id``, ``gen_ai.prompt.N.tool_calls.M.*``,
``gen_ai.completion.N.*`` (also ``function_call.*``), ``llm.usage.total_tokens`` and the
``llm.content.completion.chunk`` span events. ``llm.request.functions.N.*`` are tool definitions, not calls.
"""

from __future__ import annotations

from typing import Any

from traces.normalize.common import (
    as_int,
    as_text,
    collect_indexed,
    compact,
    first_event_ms,
    indexed_items,
    message,
    parse_json,
)
from traces.normalize.types import RawSpan

NAME = "traceloop"

SPAN_KINDS = {"workflow": "chain", "task": "chain", "agent": "agent", "tool": "tool"}
REQUEST_TYPES = {"chat": "llm", "completion": "llm", "embedding": "embedding", "rerank": "reranker"}
FIRST_TOKEN_EVENTS = frozenset({"gen_ai.content.completion.chunk", "llm.content.completion.chunk"})
_PROMPT, _COMPLETION = "gen_ai.prompt.", "gen_ai.completion."
_LEGACY = frozenset(
    ("gen_ai.prompt.0.role", "gen_ai.prompt.0.content", "gen_ai.completion.0.role", "gen_ai.completion.0.content")
)
_GATE = frozenset(
    (
        "traceloop.span.kind",
        "traceloop.entity.name",
        "llm.request.type",
        "gen_ai.usage.total_tokens",
        "llm.usage.total_tokens",
        "traceloop.association.properties.session_id",
        "traceloop.association.properties.user_id",
        "gen_ai.prompt.0.role",
        "gen_ai.prompt.0.content",
        "gen_ai.completion.0.role",
        "gen_ai.completion.0.content",
        "gen_ai.is_streaming",
        "llm.is_streaming",
    )
)


def _message(fields: dict[str, Any]) -> dict[str, Any]:
    calls = [
        {"id": as_text(c.get("id")), "name": as_text(c.get("name")), "arguments": as_text(c.get("arguments"))}
        for c in indexed_items(fields, "tool_calls.")
    ]
    if "function_call.name" in fields:
        calls.append(
            {
                "id": "",
                "name": as_text(fields["function_call.name"]),
                "arguments": as_text(fields.get("function_call.arguments")),
            }
        )
    return message(fields.get("role"), fields.get("content"), calls, fields.get("tool_call_id"))


def _entity_input(value: Any) -> str:
    """The call's single positional argument when that is all there is, else the JSON as sent."""
    data = parse_json(value)
    if isinstance(data, dict) and set(data) <= {"args", "kwargs"}:
        args, kwargs = data.get("args") or [], data.get("kwargs") or {}
        if len(args) == 1 and not kwargs and isinstance(args[0], str):
            return args[0]
        if not args and len(kwargs) == 1:
            only = next(iter(kwargs.values()))
            if isinstance(only, str):
                return only
    return as_text(value)


def _entity_output(value: Any) -> str:
    data = parse_json(value)
    return data if isinstance(data, str) else as_text(value)


def extract(raw: RawSpan) -> dict[str, Any]:
    attrs = raw.attributes
    events = raw.events
    gated = not _GATE.isdisjoint(attrs)
    if not gated and not (events and any(e.get("name") in FIRST_TOKEN_EVENTS for e in events)):
        return {}
    get = attrs.get
    kind = SPAN_KINDS.get(as_text(get("traceloop.span.kind"))) or REQUEST_TYPES.get(as_text(get("llm.request.type")))
    legacy = not _LEGACY.isdisjoint(attrs)
    groups = collect_indexed(attrs, (_PROMPT, _COMPLETION)) if legacy else {}
    prompts, completions = groups.get(_PROMPT), groups.get(_COMPLETION)

    entity_input, entity_output = get("traceloop.entity.input"), get("traceloop.entity.output")
    input_text = _entity_input(entity_input) if entity_input is not None else ""
    output_text = _entity_output(entity_output) if entity_output is not None else ""
    tool_name = tool_arguments = tool_result = ""
    if kind == "tool":
        tool_name = as_text(get("traceloop.entity.name"))
        tool_arguments = as_text(entity_input)
        tool_result = output_text
    total = as_int(get("gen_ai.usage.total_tokens"))
    if total is None:
        total = as_int(get("llm.usage.total_tokens"))
    return compact(
        {
            "kind": kind,
            "total_tokens": total,
            "input_messages": [_message(prompts[i]) for i in sorted(prompts)] if prompts else [],
            "output_messages": [_message(completions[i]) for i in sorted(completions)] if completions else [],
            "input_text": input_text,
            "output_text": output_text,
            "tool_name": tool_name,
            "tool_arguments": tool_arguments,
            "tool_result": tool_result,
            "session_id": as_text(get("traceloop.association.properties.session_id")),
            "user_id": as_text(get("traceloop.association.properties.user_id")),
            "prompt_version": as_text(get("traceloop.prompt.version")),
            "ttft_ms": first_event_ms(raw, FIRST_TOKEN_EVENTS) if events else None,
        }
    )
