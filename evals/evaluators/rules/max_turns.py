"""max_turns: an agent loop hit the project's turn limit: the trace holds max_turns llm calls or more.

A turn is one llm span (one model call of the loop). Reaching the limit fails: an agent that stops there
was usually cut off rather than done. A limit of 0 or less turns the rule off.
"""

from __future__ import annotations

from evals.evaluators.base import Evaluator, skipped
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget


def llm_turns(target: EvalTarget) -> int:
    spans = target.spans if isinstance(target.spans, list) else []
    return sum(1 for s in spans if getattr(s, "kind", "") == "llm")


def _limit(config: EvalConfig | None) -> int:
    limit = (config or EvalConfig()).max_turns
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else 0


class MaxTurns(Evaluator):
    name = "max_turns"
    version = "1"
    kind = "rule"
    target = "trace"
    description = "The trace's agent loop stayed under the project's limit of llm calls."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return _limit(config) > 0 and llm_turns(target) > 0

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        limit = _limit(config)
        turns = llm_turns(target)
        if limit <= 0 or turns == 0:
            return skipped("No turn limit is set, or the trace made no llm call.")
        details = {"turns": turns, "max_turns": limit}
        if turns >= limit:
            return EvalResult(
                value=0.0,
                passed=False,
                label="max_turns",
                explanation=f"The agent made {turns} llm calls, reaching the limit of {limit}.",
                details=details,
            )
        return EvalResult(
            value=1.0,
            passed=True,
            label="ok",
            explanation=f"The agent made {turns} llm call{'s' if turns != 1 else ''}, under the limit of {limit}.",
            details=details,
        )
