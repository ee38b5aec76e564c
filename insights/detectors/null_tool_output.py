"""Null tool output fed to an LLM: a tool found nothing, and the model was asked to carry on from that.

Rule. Two kinds of evidence, both requiring that a later llm call actually received the empty result:

- a message: an llm call's input holds a tool (or function) message whose content is null or empty ("",
  "null", "None", "[]", "{}", ...; ``NULL_TEXTS``). The message is tied to its tool span by tool call id (a
  ``gen_ai.tool.call.id``-style attribute), else by the tool name (the message's, or the one its assistant
  message called), else reported without a span. Calls where no message has any content are skipped: that is
  content capture turned off, not an empty result. An agent re-sends its history, so each message is reported
  once, at the first call that received it.
- a prompt: a tool span that did not fail returned an explicit null ("null", "None", "[]", "{}"; an empty string
  may just be unrecorded), and the next llm call that started after it ended has the tool's name followed,
  within ``NEAR_CHARS``, by a null word in its input ("get_weather: null").

One finding per tool. It is about correctness (the model answers from nothing or makes something up), so it
saves no time or money: ``saving_ms`` and ``saving_usd`` are 0. Severity: warning.
"""

from __future__ import annotations

import re

from insights import fixes
from insights.detectors.types import (
    JITTER_MS,
    Finding,
    SpanView,
    TraceIndex,
    content_text,
    is_null_text,
    normalise_text,
)

ID = "null_tool_output"
NEAR_CHARS = 80
EXPLICIT_NULLS = frozenset({"null", "none", "nil", "undefined", "[]", "{}", '""', "''"})
CALL_ID_ATTRIBUTES = ("gen_ai.tool.call.id", "tool_call.id", "tool.call_id", "tool_call_id", "tool.call.id")
_NULL_WORD_RE = re.compile(r"(?<![\w])(?:null|none|nil|undefined|\[\]|\{\})(?![\w])")


def detect(index: TraceIndex) -> list[Finding]:
    calls = [s for s in index.spans if s.kind == "llm"]
    if not calls or not index.tools:
        return []
    occurrences: dict[str, list[tuple[SpanView | None, SpanView, str]]] = {}  # tool op -> (tool span, llm call, name)
    reported: set[object] = set()
    matched_tools: set[str] = set()

    for call in calls:
        if not call.input_messages or not any(
            isinstance(m, dict) and m.get("content") not in (None, "") for m in call.input_messages
        ):
            continue
        called: dict[str, str] = {}
        for position, msg in enumerate(call.input_messages):
            if not isinstance(msg, dict):
                continue
            for tool_call in msg.get("tool_calls") or ():
                if isinstance(tool_call, dict):
                    fn = tool_call.get("function") if isinstance(tool_call.get("function"), dict) else tool_call
                    called[str(tool_call.get("id") or "")] = str(fn.get("name") or "")
            if msg.get("role") not in ("tool", "function"):
                continue
            content = msg.get("content")
            if not is_null_text(content if content is None or isinstance(content, str) else content_text(content)):
                continue
            call_id = str(msg.get("tool_call_id") or "")
            name = str(msg.get("name") or called.get(call_id, ""))
            key = call_id or (name, position)
            if key in reported:
                continue
            reported.add(key)
            tool = _tool_for(index, call, call_id, name)
            if tool is not None:
                matched_tools.add(tool.span_id)
                name = name or tool.tool_name
            operation = index.op(tool) if tool is not None else (f"tool {name}" if name else "tool")
            occurrences.setdefault(operation, []).append((tool, call, name))

    for tool in index.tools:
        if tool.span_id in matched_tools or tool.status == "error" or not tool.tool_name:
            continue
        if (tool.tool_result or tool.output_text).strip().lower() not in EXPLICIT_NULLS:
            continue
        tool_end = index.end(tool)
        if tool_end is None:
            continue
        later = next((c for c in calls if c.start_ms >= tool_end - JITTER_MS), None)
        if later is not None and _mentions_null(index.input_of(later), tool.tool_name.lower()):
            occurrences.setdefault(index.op(tool), []).append((tool, later, tool.tool_name))

    return [_finding(index, operation, found) for operation, found in occurrences.items()]


def _tool_for(index: TraceIndex, call: SpanView, call_id: str, name: str) -> SpanView | None:
    before = [t for t in index.tools if (index.end(t) or float("inf")) <= call.start_ms + JITTER_MS]
    if call_id:
        for t in before:
            if any(str(t.attributes.get(key, "")) == call_id for key in CALL_ID_ATTRIBUTES):
                return t
    if name:
        named = [t for t in before if t.tool_name == name]
        if named:
            return named[-1]
    return None


def _mentions_null(text: str, tool_name: str) -> bool:
    name = normalise_text(tool_name)
    at = text.find(name)
    while at != -1:
        start = at + len(name)
        if _NULL_WORD_RE.search(text, start, start + NEAR_CHARS):
            return True
        at = text.find(name, start)
    return False


def _finding(index: TraceIndex, operation: str, found: list[tuple[SpanView | None, SpanView, str]]) -> Finding:
    tools = [t for t, _, _ in found if t is not None]
    llm_calls = [c for _, c, _ in found]
    name = next((n for _, _, n in found if n), "") or operation.removeprefix("tool ").strip()
    llm_op = index.op(llm_calls[0])
    times = "once" if len(found) == 1 else f"{len(found)} times"
    span_ids = list(dict.fromkeys([t.span_id for t in tools] + [c.span_id for c in llm_calls]))
    anchor = tools[0] if tools else llm_calls[0]
    return Finding(
        detector=ID,
        severity="warning",
        title=f'Null output of "{operation}" fed to an LLM',
        message=(
            "Root cause: null tool output fed to an LLM\n"
            f'"{name or "A tool"}" returned nothing and "{llm_op}" was given the empty result {times}. '
            "The model answers from nothing, or makes something up: tell it the tool found no result."
        ),
        span_ids=span_ids,
        operation=operation,
        parent_operation=index.parent_op(anchor),
        service=index.service_of([anchor]),
        saving_ms=0.0,
        saving_usd=0.0,
        fix=fixes.null_tool_fix(tool_name=name),
        details={"tool": name, "occurrences": len(found), "llm_span_ids": [c.span_id for c in llm_calls]},
    )
