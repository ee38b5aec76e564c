"""OpenInference (Arize Phoenix) semantic conventions.

``openinference.span.kind``; ``llm.model_name`` / ``embedding.model_name``; ``llm.provider`` / ``llm.system``;
``llm.invocation_parameters`` (its model, when a failed call has no ``llm.model_name``);
``llm.token_count.prompt/completion/total``; flattened messages ``llm.input_messages.N.message.*`` and
``llm.output_messages.N.message.*`` (role, content, contents.K.message_content.text, tool_call_id,
tool_calls.M.tool_call.id/function.name/function.arguments); ``input.value`` / ``output.value`` with their
mime types; ``retrieval.documents.N.document.*`` and ``reranker.output_documents.N.document.*``;
``tool.name``, ``tool_call.id/function.*``; ``session.id``, ``user.id``; ``llm.prompt_template.version``;
the "First Token Stream Event" span event.

``tool.parameters`` is the tool's JSON schema, not the call's arguments: a TOOL span's arguments are its
``input.value`` (or ``tool_call.function.arguments``) and its result its ``output.value``.
"""

from __future__ import annotations

from typing import Any

from traces.normalize.common import (
    as_float,
    as_int,
    as_text,
    collect_indexed,
    compact,
    first_event_ms,
    indexed_items,
    message,
    messages_from_openai,
    parse_json,
)
from traces.normalize.types import RawSpan

NAME = "openinference"

SPAN_KINDS = {
    "LLM": "llm",
    "CHAIN": "chain",
    "TOOL": "tool",
    "RETRIEVER": "retriever",
    "EMBEDDING": "embedding",
    "AGENT": "agent",
    "RERANKER": "reranker",
    "GUARDRAIL": "guardrail",
    "EVALUATOR": "evaluator",
}
FIRST_TOKEN_EVENTS = frozenset({"First Token Stream Event"})
_GATE = frozenset(
    ("openinference.span.kind", "llm.model_name", "embedding.model_name", "input.value", "output.value", "tool.name")
)
_INPUT, _OUTPUT = "llm.input_messages.", "llm.output_messages."
_DOCS, _RERANKED, _EMBEDDINGS = "retrieval.documents.", "reranker.output_documents.", "embedding.embeddings."
_PREFIXES = (_INPUT, _OUTPUT, _DOCS, _RERANKED, _EMBEDDINGS)


def _message(fields: dict[str, Any]) -> dict[str, Any]:
    content = fields.get("message.content")
    if content is None:
        parts = indexed_items(fields, "message.contents.")
        content = "\n".join(as_text(p.get("message_content.text")) for p in parts if "message_content.text" in p)
    calls = [
        {
            "id": as_text(c.get("tool_call.id")),
            "name": as_text(c.get("tool_call.function.name")),
            "arguments": as_text(c.get("tool_call.function.arguments")),
        }
        for c in indexed_items(fields, "message.tool_calls.")
    ]
    return message(fields.get("message.role"), content, calls, fields.get("message.tool_call_id"))


def _messages(group: dict[int, dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [_message(group[i]) for i in sorted(group)] if group else []


def _documents(group: dict[int, dict[str, Any]] | None) -> list[dict[str, Any]]:
    docs = []
    for i in sorted(group or ()):
        fields = group[i]
        metadata = fields.get("document.metadata")
        parsed = parse_json(metadata)
        docs.append(
            {
                "id": as_text(fields.get("document.id")),
                "content": as_text(fields.get("document.content")),
                "score": as_float(fields.get("document.score")),
                "metadata": parsed if isinstance(parsed, dict) else (metadata if metadata is not None else {}),
            }
        )
    return docs


def _is_json(attrs: dict[str, Any], key: str) -> bool:
    return attrs.get(key) == "application/json"


def _request_messages(value: Any) -> list[dict[str, Any]] | None:
    """The messages of an OpenAI chat request body, or None when the value is something else."""
    data = parse_json(value)
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return messages_from_openai(data["messages"])
    return None


def _response_messages(value: Any) -> list[dict[str, Any]] | None:
    """The choices of an OpenAI chat response body, or None when the value is something else."""
    data = parse_json(value)
    if isinstance(data, dict) and isinstance(data.get("choices"), list):
        msgs = []
        for choice in data["choices"]:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                msgs.extend(messages_from_openai([{"role": "assistant", **choice["message"]}]))
            elif isinstance(choice, dict) and isinstance(choice.get("text"), str):
                msgs.append(message("assistant", choice["text"]))
        return msgs
    if isinstance(data, dict) and data.get("object") == "list" and isinstance(data.get("data"), list):
        return []  # an embeddings response: vectors, no text
    return None


def extract(raw: RawSpan) -> dict[str, Any]:
    attrs = raw.attributes
    if _GATE.isdisjoint(attrs):
        return {}
    get = attrs.get
    kind = SPAN_KINDS.get(as_text(get("openinference.span.kind")).upper())
    groups = collect_indexed(attrs, _PREFIXES)
    input_messages = _messages(groups.get(_INPUT))
    output_messages = _messages(groups.get(_OUTPUT))

    # With flattened messages, input.value / output.value are the same request and response as JSON: the
    # texts come from the messages, and those bodies (an embeddings response is all vectors) are not parsed.
    input_value, output_value = get("input.value"), get("output.value")
    input_text = output_text = ""
    if input_value is not None and not input_messages:
        parsed = _request_messages(input_value) if _is_json(attrs, "input.mime_type") else None
        if parsed is None:
            input_text = as_text(input_value)
        else:
            input_messages = parsed
    if output_value is not None and not output_messages and kind != "embedding":
        parsed = _response_messages(output_value) if _is_json(attrs, "output.mime_type") else None
        if parsed is None:
            output_text = as_text(output_value)
        else:
            output_messages = parsed
    embedded = groups.get(_EMBEDDINGS)
    if embedded and kind == "embedding":
        input_text = "\n".join(as_text(embedded[i].get("embedding.text")) for i in sorted(embedded))

    documents = _documents(groups.get(_DOCS)) or _documents(groups.get(_RERANKED))
    tool_name = get("tool.name") or get("tool_call.function.name")
    tool_arguments = get("tool_call.function.arguments")
    model = get("llm.model_name") or get("embedding.model_name")
    if not model and kind in ("llm", "embedding"):  # a failed call has no response model: use the request's
        params = parse_json(get("llm.invocation_parameters") or get("embedding.invocation_parameters"))
        model = params.get("model") if isinstance(params, dict) else None
    tool_result = None
    if kind == "tool":
        tool_arguments = tool_arguments if tool_arguments is not None else input_value
        tool_result = output_value
    return compact(
        {
            "kind": kind,
            "provider": as_text(get("llm.provider") or get("llm.system")),
            "model": as_text(model),
            "input_tokens": as_int(get("llm.token_count.prompt")),
            "output_tokens": as_int(get("llm.token_count.completion")),
            "total_tokens": as_int(get("llm.token_count.total")),
            "input_messages": input_messages,
            "output_messages": output_messages,
            "input_text": input_text,
            "output_text": output_text,
            "documents": documents,
            "tool_name": as_text(tool_name),
            "tool_arguments": as_text(tool_arguments),
            "tool_result": as_text(tool_result),
            "session_id": as_text(get("session.id")),
            "user_id": as_text(get("user.id")),
            "prompt_version": as_text(get("llm.prompt_template.version")),
            "ttft_ms": first_event_ms(raw, FIRST_TOKEN_EVENTS) if raw.events else None,
        }
    )
