"""Every evaluator, registered in one place, and ``run_rules`` to run the deterministic ones on a target.

Rules and agent metrics are registered below; judges register themselves with ``register`` when their
module is imported. ``BUILTIN_RULES`` are the rules a new project runs on all of its traffic: each costs
microseconds, and one whose ``applies()`` is false for a target simply does not run.
"""

from __future__ import annotations

import time

from evals.evaluators.agent.step_efficiency import StepEfficiency
from evals.evaluators.agent.tool_selection import ToolSelectionAccuracy
from evals.evaluators.base import Evaluator
from evals.evaluators.rules.citations import CitationIntegrity
from evals.evaluators.rules.failure import Error, Timeout, ToolFailure
from evals.evaluators.rules.json_schema import JsonSchema
from evals.evaluators.rules.json_valid import JsonValid
from evals.evaluators.rules.max_turns import MaxTurns
from evals.evaluators.rules.non_empty import NonEmpty
from evals.evaluators.rules.pii import Pii
from evals.evaluators.rules.tool_allowed import ToolAllowed
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

__all__ = [
    "BUILTIN_RULES",
    "REGISTRY",
    "EvalConfig",
    "EvalResult",
    "EvalTarget",
    "Evaluator",
    "get",
    "register",
    "rule_evaluators",
    "run_rules",
]

REGISTRY: dict[str, Evaluator] = {}


def register(evaluator: Evaluator) -> Evaluator:
    """Add an evaluator (an instance) under its name. Registering another class under a taken name fails."""
    if not evaluator.name:
        raise ValueError(f"{evaluator!r} has no name")
    if evaluator.kind not in ("rule", "agent", "judge") or evaluator.target not in ("span", "trace"):
        raise ValueError(f"{evaluator!r}: kind must be rule/agent/judge and target span/trace")
    existing = REGISTRY.get(evaluator.name)
    if existing is not None and type(existing) is not type(evaluator):
        raise ValueError(f"evaluator name {evaluator.name!r} is taken by {existing!r}")
    REGISTRY[evaluator.name] = evaluator
    return evaluator


for _evaluator in (
    JsonValid(),
    JsonSchema(),
    Pii(),
    ToolAllowed(),
    CitationIntegrity(),
    NonEmpty(),
    Error(),
    Timeout(),
    ToolFailure(),
    MaxTurns(),
    ToolSelectionAccuracy(),
    StepEfficiency(),
):
    register(_evaluator)

BUILTIN_RULES: list[str] = [
    "json_valid",
    "pii",
    "tool_allowed",
    "citation_integrity",
    "non_empty",
    "error",
    "timeout",
    "tool_failure",
    "max_turns",
    "json_schema",
]


def get(name: str) -> Evaluator:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown evaluator {name!r}") from None


def rule_evaluators() -> list[Evaluator]:
    return [e for e in REGISTRY.values() if e.kind == "rule"]


def run_rules(
    target: EvalTarget, config: EvalConfig, names: list[str] | None = None, *, level: str | None = None
) -> dict[str, EvalResult]:
    """Run every applicable rule (or the named rules and agent metrics) on a target; name -> result.

    ``level`` "span" or "trace" keeps only the evaluators of that target level: a span target may carry its
    trace's spans, and trace rules should run once per trace, not once per span. Rules that do not apply
    are left out of the answer. A rule that raises (a bug, never expected) gives a result with status
    "error" instead of stopping the others; so does an unknown name or a judge, which runs asynchronously.
    """
    results: dict[str, EvalResult] = {}
    if names is None:
        evaluators = rule_evaluators()
    else:
        evaluators = []
        for name in names:
            evaluator = REGISTRY.get(name)
            if evaluator is None:
                results[name] = EvalResult(status="error", error=f"unknown evaluator {name!r}")
            elif evaluator.kind == "judge":
                results[name] = EvalResult(status="error", error=f"{name!r} is a judge: it runs asynchronously")
            else:
                evaluators.append(evaluator)
    for evaluator in evaluators:
        if level is not None and evaluator.target != level:
            continue
        start = time.perf_counter()
        try:
            if not evaluator.applies(target, config):
                continue
            result = evaluator.evaluate(target, config)
        except Exception as exc:  # a rule's bug must not cost the other rules their results
            result = EvalResult(status="error", error=f"{type(exc).__name__}: {exc}"[:500])
        result.latency_ms = (time.perf_counter() - start) * 1000
        results[evaluator.name] = result
    return results
