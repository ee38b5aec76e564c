"""OpenTelemetry GenAI semantic conventions: the current names, the deprecated ones, and message events.

Current: ``gen_ai.provider.name``, ``gen_ai.request.model`` / ``gen_ai.response.model``,
``gen_ai.usage.input_tokens`` / ``output_tokens``, ``gen_ai.input.messages`` / ``gen_ai.output.messages`` /
``gen_ai.system_instructions`` (JSON strings, or structured values in log records, of role + parts),
``gen_ai.operation.name``, ``gen_ai.tool.*``, ``gen_ai.conversation.id``, ``gen_ai.response.time_to_first_chunk``.
Deprecated: ``gen_ai.system``, ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``, ``gen_ai.prompt`` /
``gen_ai.completion``, and message events (as span events here, as log records in ``apply_log_events``):
``gen_ai.system.message``, ``gen_ai.user.message``, ``gen_ai.assistant.message``, ``gen_ai.tool.message``,
``gen_ai.choice``, ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` and
``gen_ai.client.inference.operation.details``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from traces.normalize.common import (
    arguments_text,
    as_float,
    as_int,
    as_text,
    compact,
    first_event_ms,
    message,
    message_from_openai,
    messages_from_openai,
    parse_json,
)
from traces.normalize.types import RawSpan

NAME = "genai"

OPERATION_KINDS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "chain",
    "retrieval": "retriever",
    "rerank": "reranker",
}
FIRST_TOKEN_EVENTS = frozenset({"gen_ai.content.completion.chunk", "gen_ai.first_token", "gen_ai.response.first_chunk"})

INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
MESSAGE_EVENTS = frozenset(
    [*INPUT_EVENTS, "gen_ai.choice", "gen_ai.content.prompt", "gen_ai.content.completion", DETAILS_EVENT]
)


def _semconv_message(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One GenAI message ({"role", "parts": [...]}) as normalised messages (a tool result part is its own)."""
    parts = data.get("parts")
    if not isinstance(parts, list):
        legacy = message_from_openai(data)
        return [legacy] if legacy else []
    role = data.get("role") or ""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(as_text(part.get("content")))
        elif kind == "tool_call":
            calls.append(
                {
                    "id": as_text(part.get("id")),
                    "name": as_text(part.get("name")),
                    "arguments": arguments_text(part.get("arguments", "")),
                }
            )
        elif kind == "tool_call_response":
            results.append(message(role or "tool", as_text(part.get("response")), tool_call_id=part.get("id")))
    out = []
    if texts or calls or not results:
        out.append(message(role, "\n".join(texts), calls))
    out.extend(results)
    return out


def semconv_messages(value: Any) -> list[dict[str, Any]]:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages``: a JSON string or an already decoded list."""
    items = value if isinstance(value, list) else parse_json(value)
    if not isinstance(items, list):
        return []
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            out.extend(_semconv_message(item))
    return out


def system_instructions(value: Any) -> list[dict[str, Any]]:
    """``gen_ai.system_instructions`` (a list of parts) as one system message."""
    parts = value if isinstance(value, list) else parse_json(value)
    if isinstance(parts, list):
        msgs = _semconv_message({"role": "system", "parts": parts})
        return [m for m in msgs if m["content"]]
    if isinstance(value, str) and value:
        return [message("system", value)]
    return []


def _legacy_messages(value: Any, role: str) -> list[dict[str, Any]]:
    """``gen_ai.prompt`` / ``gen_ai.completion``: a JSON list of chat messages, or plain text."""
    parsed = parse_json(value) if isinstance(value, str) else value
    if isinstance(parsed, list):
        msgs = messages_from_openai(parsed)
        if msgs:
            return msgs
    if isinstance(parsed, dict):
        msg = message_from_openai(parsed)
        if msg:
            return [msg]
    text = as_text(value)
    return [message(role, text)] if text else []


def messages_from_events(events: Iterable[tuple[str, dict[str, Any], Any]]) -> tuple[list, list]:
    """(input, output) messages from GenAI message events given as (name, attributes, body).

    Span events carry their content in attributes, log records in the body; both are read. Choices are
    put in index order.
    """
    inputs: list[dict[str, Any]] = []
    choices: list[tuple[int, dict[str, Any]]] = []
    details_in: list[dict[str, Any]] = []
    details_out: list[dict[str, Any]] = []
    for name, attributes, body in events:
        attributes = attributes or {}
        if isinstance(body, str):
            body = parse_json(body) or ({"content": body} if body else None)
        if not isinstance(body, dict):
            body = attributes
        if isinstance(body.get("gen_ai.event.content"), str):
            body = parse_json(body["gen_ai.event.content"]) or body
        if name in INPUT_EVENTS:
            role = body.get("role") or INPUT_EVENTS[name]
            msg = message_from_openai(
                {**body, "role": role, "tool_call_id": body.get("tool_call_id") or body.get("id")}
            )
            if msg:
                inputs.append(msg)
        elif name == "gen_ai.choice":
            data = body.get("message")
            data = parse_json(data) if isinstance(data, str) else data  # span event attributes hold JSON text
            data = data if isinstance(data, dict) else body
            msg = message_from_openai({"role": "assistant", **data})
            if msg:
                choices.append((as_int(body.get("index")) or 0, msg))
        elif name == DETAILS_EVENT:
            details_in = system_instructions(attributes.get("gen_ai.system_instructions")) + semconv_messages(
                attributes.get("gen_ai.input.messages")
            )
            details_out = semconv_messages(attributes.get("gen_ai.output.messages"))
        elif name == "gen_ai.content.prompt":
            inputs.extend(_legacy_messages(attributes.get("gen_ai.prompt"), "user"))
        elif name == "gen_ai.content.completion":
            choices.extend((0, m) for m in _legacy_messages(attributes.get("gen_ai.completion"), "assistant"))
    choices.sort(key=lambda item: item[0])
    return (details_in or inputs), (details_out or [m for _, m in choices])


def extract(raw: RawSpan) -> dict[str, Any]:
    attrs = raw.attributes
    get = attrs.get
    request_model = as_text(get("gen_ai.request.model"))
    response_model = as_text(get("gen_ai.response.model"))
    input_tokens = as_int(get("gen_ai.usage.input_tokens"))
    if input_tokens is None:
        input_tokens = as_int(get("gen_ai.usage.prompt_tokens"))
    output_tokens = as_int(get("gen_ai.usage.output_tokens"))
    if output_tokens is None:
        output_tokens = as_int(get("gen_ai.usage.completion_tokens"))

    input_messages: list[dict[str, Any]] = []
    output_messages: list[dict[str, Any]] = []
    if "gen_ai.input.messages" in attrs:
        input_messages = semconv_messages(attrs["gen_ai.input.messages"])
    if "gen_ai.system_instructions" in attrs:
        input_messages = system_instructions(attrs["gen_ai.system_instructions"]) + input_messages
    if "gen_ai.output.messages" in attrs:
        output_messages = semconv_messages(attrs["gen_ai.output.messages"])
    if not input_messages and "gen_ai.prompt" in attrs:
        input_messages = _legacy_messages(attrs["gen_ai.prompt"], "user")
    if not output_messages and "gen_ai.completion" in attrs:
        output_messages = _legacy_messages(attrs["gen_ai.completion"], "assistant")
    if raw.events and (not input_messages or not output_messages):
        found = [(e.get("name"), e.get("attributes"), None) for e in raw.events if e.get("name") in MESSAGE_EVENTS]
        if found:
            event_in, event_out = messages_from_events(found)
            input_messages = input_messages or event_in
            output_messages = output_messages or event_out

    ttft = as_float(get("gen_ai.response.time_to_first_chunk"))
    ttft_ms = ttft * 1000 if ttft is not None else (first_event_ms(raw, FIRST_TOKEN_EVENTS) if raw.events else None)
    tool_result = get("gen_ai.tool.call.result")
    return compact(
        {
            "kind": OPERATION_KINDS.get(as_text(get("gen_ai.operation.name"))),
            "provider": as_text(get("gen_ai.provider.name") or get("gen_ai.system")),
            "model": request_model or response_model,
            "model_version": response_model if request_model and response_model != request_model else "",
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost": as_float(get("gen_ai.usage.cost")),
            "input_messages": input_messages,
            "output_messages": output_messages,
            "tool_name": as_text(get("gen_ai.tool.name")),
            "tool_arguments": as_text(get("gen_ai.tool.call.arguments")),
            "tool_result": as_text(tool_result),
            "session_id": as_text(get("gen_ai.conversation.id")),
            "ttft_ms": ttft_ms,
        }
    )
