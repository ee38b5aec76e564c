"""non_empty: an llm span produced something: text that is not only whitespace, or tool calls.

Spans that ended in error are left to the ``error`` rule: their empty output is a consequence, not a
second finding.
"""

from __future__ import annotations

from evals.evaluators.base import Evaluator, text_of
from evals.evaluators.rules.tool_allowed import called_tools
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

# Characters str.strip() keeps but a reader sees as nothing.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def has_text(value: object) -> bool:
    text, _ = text_of(value, 10_000)
    return bool(text.strip().strip(_INVISIBLE).strip())


class NonEmpty(Evaluator):
    name = "non_empty"
    version = "1"
    kind = "rule"
    target = "span"
    description = "An llm span's output is not empty or whitespace (tool calls count as output)."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return target.kind == "llm" and target.status != "error"

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        if has_text(target.output_text):
            return EvalResult(value=1.0, passed=True, label="non_empty", explanation="The model produced an answer.")
        messages = target.output_messages if isinstance(target.output_messages, list) else []
        if any(isinstance(m, dict) and has_text(m.get("content")) for m in messages):
            return EvalResult(value=1.0, passed=True, label="non_empty", explanation="The model produced an answer.")
        calls = called_tools(messages)
        if calls:
            return EvalResult(
                value=1.0,
                passed=True,
                label="tool_calls",
                explanation=f"The model answered with {len(calls)} tool call{'s' if len(calls) != 1 else ''}.",
            )
        raw, _ = text_of(target.output_text, 1)
        return EvalResult(
            value=0.0,
            passed=False,
            label="empty",
            explanation="The model returned an empty answer.",
            details={"whitespace_only": bool(raw), "output_messages": len(messages)},
        )
