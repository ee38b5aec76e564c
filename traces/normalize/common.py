"""Helpers shared by the convention modules: value coercion, message shapes, flattened keys, status.

A normalised message is {"role", "content"} plus, when present, "tool_calls" (a list of
{"id", "name", "arguments"}, arguments as JSON text) and "tool_call_id" (on a tool result).
"""

from __future__ import annotations

import json
import math
from typing import Any

from traces.normalize.types import RawSpan

_JSON_START = frozenset('[{"')
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def parse_json(value: Any) -> Any:
    """The decoded JSON of a string that looks like a JSON object, array or string; None otherwise."""
    if not isinstance(value, str):
        return None
    text = value.lstrip()
    if not text or text[0] not in _JSON_START:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # nested deeper than the parser recurses: not data we can read
        return None


def as_int(value: Any) -> int | None:
    """An integer within int64 (token counts, indexes), or None."""
    number = _as_int(value)
    return number if number is not None and _INT64_MIN <= number <= _INT64_MAX else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return None
            return int(number) if math.isfinite(number) else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int past the largest float
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str:
    """Text for a text field: strings as they are, structured values as JSON, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def compact(found: dict[str, Any]) -> dict[str, Any]:
    """Drop the empty values a module could not fill, so they never shadow a lower-precedence module."""
    return {k: v for k, v in found.items() if v is not None and v != "" and v != []}


def collect_indexed(attrs: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, dict[int, dict[str, Any]]]:
    """Group flattened keys such as ``llm.input_messages.3.message.role`` in one pass.

    Returns {prefix: {3: {"message.role": value}}} for each prefix (which ends with a dot).
    """
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefixes):
            continue
        for prefix in prefixes:
            if key.startswith(prefix):
                index, _, sub = key[len(prefix) :].partition(".")
                if index.isdigit() and sub:
                    found.setdefault(prefix, {}).setdefault(int(index), {})[sub] = value
                break
    return found


def indexed_items(group: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The sub-items of one flattened entry, e.g. tool_calls.0.* and tool_calls.1.* as two dicts, in order."""
    items: dict[int, dict[str, Any]] = {}
    for key, value in group.items():
        if key.startswith(prefix):
            index, _, sub = key[len(prefix) :].partition(".")
            if index.isdigit() and sub:
                items.setdefault(int(index), {})[sub] = value
    return [items[i] for i in sorted(items)]


def arguments_text(value: Any) -> str:
    return value if isinstance(value, str) else as_text(value)


def content_text(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if text is None and part.get("type") in ("text", "input_text", "output_text"):
                    text = part.get("content")
                if isinstance(text, str):
                    texts.append(text)
        return "\n".join(texts)
    return as_text(content)


def message(role: Any, content: Any = "", tool_calls: list | None = None, tool_call_id: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": str(role or ""), "content": content_text(content)}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    if tool_call_id:
        msg["tool_call_id"] = str(tool_call_id)
    return msg


def message_from_openai(data: Any) -> dict[str, Any] | None:
    """A message in OpenAI's chat shape ({"role", "content", "tool_calls", "tool_call_id"})."""
    if not isinstance(data, dict) or "role" not in data:
        return None
    calls = []
    for call in data.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else call
        calls.append(
            {
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "arguments": arguments_text(function.get("arguments", "")),
            }
        )
    legacy = data.get("function_call")
    if isinstance(legacy, dict):
        calls.append(
            {"id": "", "name": str(legacy.get("name") or ""), "arguments": arguments_text(legacy.get("arguments", ""))}
        )
    return message(data.get("role"), data.get("content"), calls, data.get("tool_call_id"))


def messages_from_openai(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [m for m in map(message_from_openai, items) if m is not None]


def tool_calls_text(calls: list[dict[str, Any]]) -> str:
    return "\n".join(f"{c.get('name', '')}({c.get('arguments', '')})" for c in calls)


def input_text_from(messages: list[dict[str, Any]]) -> str:
    """The last user message's content, else the last message with content."""
    for msg in reversed(messages):
        if msg.get("role") == "user" and msg.get("content"):
            return msg["content"]
    for msg in reversed(messages):
        if msg.get("content"):
            return msg["content"]
    return ""


def output_text_from(messages: list[dict[str, Any]]) -> str:
    """The first assistant message's content; a message that only calls tools reads as name(arguments)."""
    for msg in messages:
        if msg.get("role") in ("assistant", "model", ""):
            if msg.get("content"):
                return msg["content"]
            if msg.get("tool_calls"):
                return tool_calls_text(msg["tool_calls"])
    for msg in messages:
        if msg.get("content"):
            return msg["content"]
    return ""


def first_event_ms(raw: RawSpan, names: frozenset[str]) -> float | None:
    """Milliseconds from the span's start to the first event with one of these names."""
    first = None
    for event in raw.events:
        if event.get("name") in names:
            t = event.get("time_ns") or 0
            if t and (first is None or t < first):
                first = t
    if first is None or first < raw.start_ns:
        return None
    return (first - raw.start_ns) / 1e6


def exception_text(raw: RawSpan) -> tuple[str, str]:
    """(type, message) of the first ``exception`` span event."""
    for event in raw.events:
        if event.get("name") == "exception":
            attrs = event.get("attributes") or {}
            return as_text(attrs.get("exception.type")), as_text(attrs.get("exception.message"))
    return "", ""


def status_of(raw: RawSpan) -> tuple[str, str]:
    """(status, error) from the OTel status, the ``exception`` event and ``error.type``.

    Error when the status code says so or ``error.type`` is set (GenAI semconv sets it only on failures).
    The message is the status message, else the exception's message, prefixed by the exception type or
    ``error.type`` when the message does not already name it (``openai.InternalServerError: Error code: 500``).
    """
    attrs = raw.attributes
    error_type = attrs.get("error.type")
    failed = raw.status_code == 2 or bool(error_type)
    if not failed:
        return ("ok" if raw.status_code == 1 else "unset"), ""
    exc_type, exc_message = exception_text(raw)
    kind = exc_type or as_text(error_type)
    text = raw.status_message or exc_message
    if kind and kind.rsplit(".", 1)[-1] not in text:
        text = f"{kind}: {text}" if text else kind
    return "error", text
