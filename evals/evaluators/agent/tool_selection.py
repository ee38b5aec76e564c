"""tool_selection_accuracy: the share of an agent's tool calls that used the right tool.

"Right" is the golden case's expected tools when the target has one (``config.expected_tools``), else the
project's allowed tools. The calls are the trace's tool spans; a trace without tool spans (the app runs
tools outside any instrumentation) is judged on the tool calls its llm spans asked for, never both, which
would count every call twice. Entries may be globs, as in tool_allowed.

Against a golden case an expected tool that was never called is a wrong selection too: the value stays the
share of correct calls, but the result only passes when every call is expected and none is missing. A
golden case that expects tools from a trace that called none scores 0.
"""

from __future__ import annotations

from typing import Any

from evals.evaluators.base import Evaluator, skipped
from evals.evaluators.rules.tool_allowed import GLOB_CHARS, called_tools, tool_matches, tool_name_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

MAX_LISTED = 100


def trace_tool_calls(target: EvalTarget) -> list[tuple[str, str]]:
    """(tool name, span id) of every tool call in the trace, in order."""
    spans = target.spans if isinstance(target.spans, list) and target.spans else [target]
    tool_spans = [s for s in spans if getattr(s, "kind", "") == "tool"]
    if tool_spans:
        return [(name, s.span_id) for s in tool_spans if (name := tool_name_of(s))]
    return [
        (c["name"], s.span_id)
        for s in spans
        if getattr(s, "kind", "") == "llm"
        for c in called_tools(s.output_messages)
        if c["name"]
    ]


def _reference(config: EvalConfig | None) -> tuple[str, list[str]]:
    config = config or EvalConfig()
    if config.expected_tools:
        return "expected_tools", [t for t in config.expected_tools if isinstance(t, str)]
    return "allowed_tools", [t for t in config.allowed_tools or () if isinstance(t, str)]


class ToolSelectionAccuracy(Evaluator):
    name = "tool_selection_accuracy"
    version = "1"
    kind = "agent"
    target = "trace"
    description = "Share of the trace's tool calls whose tool is expected (golden case) or else allowed."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        basis, reference = _reference(config)
        if not reference:
            return False
        return basis == "expected_tools" or bool(trace_tool_calls(target))

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        basis, reference = _reference(config)
        if not reference:
            return skipped("Neither expected nor allowed tools are set.")
        calls = trace_tool_calls(target)
        golden = basis == "expected_tools"
        called = {name for name, _ in calls}
        missing = (
            sorted(t for t in set(reference) if not GLOB_CHARS.intersection(t) and t not in called) if golden else []
        )
        details: dict[str, Any] = {"basis": basis, "reference": reference}
        if not calls:
            if not golden:
                return skipped("The trace calls no tool.")
            return EvalResult(
                value=0.0,
                passed=False,
                label="no_tool_calls",
                explanation=f"The golden case expects {', '.join(reference)}, but the agent called no tool.",
                details={**details, "calls": [], "missing": missing},
            )
        checked = [(name, span_id, tool_matches(name, reference)) for name, span_id in calls]
        correct = sum(ok for _, _, ok in checked)
        wrong = sorted({name for name, _, ok in checked if not ok})
        details.update(
            calls=[{"tool": n, "span_id": s, "ok": ok} for n, s, ok in checked[:MAX_LISTED]],
            wrong=wrong,
            missing=missing,
        )
        value = correct / len(checked)
        passed = not wrong and not missing
        what = "expected" if golden else "allowed"
        if passed:
            explanation = (
                f"The tool call used an {what} tool."
                if len(checked) == 1
                else f"All {len(checked)} tool calls used {what} tools."
            )
        else:
            problems = []
            if wrong:
                problems.append(
                    f"{len(checked) - correct} of {len(checked)} calls used tools not {what} ({', '.join(wrong)})"
                )
            if missing:
                problems.append(f"expected tools were never called ({', '.join(missing)})")
            joined = "; ".join(problems)
            explanation = joined[0].upper() + joined[1:] + "."
        return EvalResult(
            value=value, passed=passed, label=f"{correct}/{len(checked)}", explanation=explanation, details=details
        )
