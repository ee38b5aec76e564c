"""Evaluator tests: plain data in, EvalResult out, no database.

Factories for realistic targets live here so every test file builds spans the same way.
"""

from __future__ import annotations

import itertools
from typing import Any

from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

_ids = itertools.count(1)


def _span_id() -> str:
    return f"{next(_ids):016x}"


def llm_span(output: Any = "", **kw: Any) -> EvalTarget:
    fields: dict[str, Any] = {
        "span_id": _span_id(),
        "name": "chat gpt-4o-mini",
        "kind": "llm",
        "model": "gpt-4o-mini",
        "input_text": "What is your refund policy for annual plans?",
        "input_messages": [
            {"role": "system", "content": "You are Acme's support assistant. Cite your sources."},
            {"role": "user", "content": "What is your refund policy for annual plans?"},
        ],
        "output_text": output,
        "output_messages": [{"role": "assistant", "content": output}] if isinstance(output, str) and output else [],
        "status": "ok",
        "duration_ms": 1840.0,
    }
    fields.update(kw)
    return EvalTarget(**fields)


def tool_span(tool: str = "search_kb", arguments: str = '{"query": "refund policy"}', result: Any = "", **kw: Any):
    fields: dict[str, Any] = {
        "span_id": _span_id(),
        "name": f"execute_tool {tool}",
        "kind": "tool",
        "tool_name": tool,
        "tool_arguments": arguments,
        "tool_result": result,
        "status": "ok",
        "duration_ms": 210.0,
    }
    fields.update(kw)
    return EvalTarget(**fields)


def tool_call(name: str, arguments: str = "{}", call_id: str = "") -> dict[str, str]:
    return {"id": call_id or f"call_{next(_ids)}", "name": name, "arguments": arguments}


def calling_llm_span(*calls: dict[str, str], **kw: Any) -> EvalTarget:
    """An llm span whose answer is only tool calls (output_text reads name(arguments), as the normaliser does)."""
    text = "\n".join(f"{c['name']}({c['arguments']})" for c in calls)
    return llm_span(text, output_messages=[{"role": "assistant", "content": "", "tool_calls": list(calls)}], **kw)


def trace(*spans: EvalTarget, **kw: Any) -> EvalTarget:
    """A trace-level target: the root's fields plus every span, in start order."""
    fields: dict[str, Any] = {"span_id": _span_id(), "name": "support-agent", "kind": "agent", "spans": list(spans)}
    fields.update(kw)
    return EvalTarget(**fields)


def evaluate(name: str, target: EvalTarget, config: EvalConfig | None = None) -> EvalResult | None:
    """The registered evaluator's result, or None when it does not apply (as run_rules would skip it)."""
    from evals.evaluators import get

    evaluator = get(name)
    config = config or EvalConfig()
    if not evaluator.applies(target, config):
        return None
    return evaluator.evaluate(target, config)
