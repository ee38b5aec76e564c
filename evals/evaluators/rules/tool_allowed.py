"""tool_allowed: every tool a span runs or asks for is in the project's allowed set.

Tool spans are checked by their tool name (for a GenAI span without ``gen_ai.tool.name``, the name in
"execute_tool <name>"); llm spans by the tool calls in their output messages. An allowed entry may be a
glob (``github.*``, ``search_*``) for families of MCP tools; names compare case-sensitively, as tool
registries do. Applies only when the project has set allowed tools.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from evals.evaluators.base import Evaluator, skipped, text_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

GLOB_CHARS = frozenset("*?[")


def tool_matches(name: str, allowed: list[str] | tuple[str, ...] | set[str]) -> bool:
    """Whether a tool name is in an allowed list whose entries may be globs."""
    if name in allowed:
        return True
    return any(isinstance(p, str) and GLOB_CHARS.intersection(p) and fnmatchcase(name, p) for p in allowed)


def called_tools(messages: Any) -> list[dict[str, str]]:
    """The tool calls ({"id", "name", "arguments"}) in a list of normalised messages."""
    calls: list[dict[str, str]] = []
    if not isinstance(messages, list):
        return calls
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        for call in msg.get("tool_calls") or ():
            if isinstance(call, dict):
                name, _ = text_of(call.get("name"), 200)
                arguments, _ = text_of(call.get("arguments"))
                calls.append({"id": text_of(call.get("id"), 200)[0], "name": name, "arguments": arguments})
    return calls


def tool_name_of(target: EvalTarget) -> str:
    """A tool span's tool name, from the normalised field or the GenAI span name "execute_tool <name>"."""
    name, _ = text_of(target.tool_name, 200)
    if name:
        return name
    span_name, _ = text_of(target.name, 300)
    if span_name.startswith("execute_tool "):
        return span_name[len("execute_tool ") :].strip()
    return ""


def tools_used(target: EvalTarget) -> list[str]:
    """The tool names a span runs (tool span) or asks for (llm span)."""
    if target.kind == "tool":
        name = tool_name_of(target)
        return [name] if name else []
    if target.kind == "llm":
        return [c["name"] for c in called_tools(target.output_messages) if c["name"]]
    return []


class ToolAllowed(Evaluator):
    name = "tool_allowed"
    version = "1"
    kind = "rule"
    target = "span"
    description = "Every tool a span runs or asks for is in the project's allowed tools."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        if config is None or not config.allowed_tools:
            return False
        return bool(tools_used(target))

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        allowed = config.allowed_tools or []
        if not allowed:
            return skipped("The project has no allowed tools set.")
        tools = tools_used(target)
        if not tools:
            return skipped("The span runs no tool.")
        disallowed = sorted({t for t in tools if not tool_matches(t, allowed)})
        details = {"tools": tools, "disallowed": disallowed}
        if not disallowed:
            return EvalResult(
                value=1.0,
                passed=True,
                label="allowed",
                explanation=f"Every tool called ({', '.join(sorted(set(tools)))}) is allowed.",
                details=details,
            )
        return EvalResult(
            value=0.0,
            passed=False,
            label="disallowed",
            explanation=f"The span calls tools outside the allowed set: {', '.join(disallowed)}.",
            details=details,
        )
