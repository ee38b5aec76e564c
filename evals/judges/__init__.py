"""LLM judges, registered in one place, and the entry points the Celery worker calls.

Each judge is an ``Evaluator`` with kind "judge": ``applies``, ``version_for(config)``,
``cache_key(target, config, model)`` and ``async ajudge(target, config, client) -> EvalResult``.
``judge_sync`` runs one judgement in a fresh event loop and raises the ``evals.judge_client`` exceptions
(with the calls made so far attached) so the task can retry, pause the rule or record an error;
``error_result`` turns such an exception into the errored result to store (never a 0.0).

Importing this package does not import ragas: the judges import it when they run.
"""

from __future__ import annotations

import asyncio

from evals.evaluators.base import skipped
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget
from evals.judge_client import (
    JudgeAuthError,
    JudgeClient,
    JudgeConfig,
    JudgeError,
    JudgeMalformed,
    JudgeRetryable,
)
from evals.judges import answer_relevancy, context_precision, faithfulness, rubric

JUDGES = {
    judge.name: judge for judge in (faithfulness.JUDGE, answer_relevancy.JUDGE, context_precision.JUDGE, rubric.JUDGE)
}

__all__ = [
    "JUDGES",
    "JudgeAuthError",
    "JudgeConfig",
    "JudgeError",
    "JudgeMalformed",
    "JudgeRetryable",
    "cache_key",
    "error_result",
    "judge_sync",
    "run_judge",
]


def cache_key(name: str, target: EvalTarget, config: EvalConfig, judge_config: JudgeConfig) -> str:
    """The judge's cache key for this target under this judge config (answer relevancy adds its embedder)."""
    judge = JUDGES[name]
    if name == "answer_relevancy":
        return judge.cache_key(target, config, judge_config.model, embedding_model=judge_config.embedding_model)
    return judge.cache_key(target, config, judge_config.model)


async def run_judge(name: str, target: EvalTarget, config: EvalConfig, judge_config: JudgeConfig) -> EvalResult:
    """Run one judge on one target with a client of its own; skipped when the judge does not apply.

    Raises JudgeError (or a subclass) with ``calls`` and ``cost`` of what was spent before the failure.
    """
    judge = JUDGES[name]
    if not judge.applies(target, config):
        return skipped(f"{name} does not apply to this span")
    async with JudgeClient(judge_config) as client:
        try:
            return await judge.ajudge(target, config, client)
        except JudgeError as exc:
            exc.calls = [call.to_dict() for call in client.calls]
            exc.cost = client.total_cost()
            raise


def judge_sync(
    name: str, target: EvalTarget, config: EvalConfig, judge_config: JudgeConfig, *, deadline_s: float | None = None
) -> EvalResult:
    """``run_judge`` in a fresh event loop, for the Celery worker (which has no loop running). With
    ``deadline_s`` the whole judgement (all its calls) is cut off then: TimeoutError."""
    judgement = run_judge(name, target, config, judge_config)
    if deadline_s is not None:
        judgement = asyncio.wait_for(judgement, deadline_s)
    return asyncio.run(judgement)


def error_result(exc: JudgeError, judge_config: JudgeConfig | None = None) -> EvalResult:
    """The result to store once a judgement has failed for good: status "error", the reason, no value."""
    return EvalResult(
        status="error",
        error=exc.reason,
        label="error",
        raw=getattr(exc, "raw", ""),
        cost=exc.cost,
        judge_model=judge_config.model if judge_config is not None else "",
        details={"error_type": type(exc).__name__, "calls": exc.calls},
    )
