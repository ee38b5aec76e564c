"""step_efficiency: distinct useful steps / steps taken, over a trace's llm and tool spans.

Two steps are the same when a tool is called again with the same arguments (compared as parsed JSON, so
key order and spacing do not matter) or a model is called again with the same input messages (the full
list: the last user message alone is the same on every turn of an agent loop). Each distinct step counts
once, and only if at least one of its runs did not fail: a retried identical call that finally succeeded
is one useful step, a call that always failed is none. Passes at ``PASS_AT`` or more. Applies to traces
with two steps or more (one step cannot be wasted).
"""

from __future__ import annotations

import json
from typing import Any

from evals.evaluators.base import Evaluator, skipped, text_of
from evals.evaluators.rules.tool_allowed import tool_name_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

PASS_AT = 0.7
STEP_KINDS = frozenset({"llm", "tool"})
MAX_LISTED = 20


def _canonical_arguments(value: Any) -> str:
    text, _ = text_of(value)
    try:
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):
        return " ".join(text.split())


def step_key(span: EvalTarget) -> tuple[str, str, str]:
    """(kind, name, what the step was given): equal keys are identical calls."""
    if span.kind == "tool":
        return "tool", tool_name_of(span), _canonical_arguments(span.tool_arguments)
    messages = span.input_messages if isinstance(span.input_messages, list) else []
    if messages:
        try:
            given = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        except (ValueError, RecursionError):
            given = repr(messages)
    else:
        given = text_of(span.input_text)[0]
    return "llm", text_of(span.model, 200)[0], given


def steps_of(target: EvalTarget) -> list[EvalTarget]:
    spans = target.spans if isinstance(target.spans, list) else []
    return [s for s in spans if getattr(s, "kind", "") in STEP_KINDS]


class StepEfficiency(Evaluator):
    name = "step_efficiency"
    version = "1"
    kind = "agent"
    target = "trace"
    description = "Distinct useful steps over steps taken: repeated identical tool or model calls are waste."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return len(steps_of(target)) >= 2

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        steps = steps_of(target)
        if not steps:
            return skipped("The trace has no llm or tool steps.")
        groups: dict[tuple[str, str, str], list[EvalTarget]] = {}
        for span in steps:
            groups.setdefault(step_key(span), []).append(span)
        useful = sum(1 for runs in groups.values() if any(s.status != "error" for s in runs))
        repeats = [
            {"kind": kind, "name": name, "count": len(runs), "span_ids": [s.span_id for s in runs[:10]]}
            for (kind, name, _), runs in groups.items()
            if len(runs) > 1
        ]
        repeats.sort(key=lambda r: -r["count"])
        failed = [
            {"kind": kind, "name": name, "span_ids": [s.span_id for s in runs[:10]]}
            for (kind, name, _), runs in groups.items()
            if all(s.status == "error" for s in runs)
        ]
        value = useful / len(steps)
        passed = value >= PASS_AT
        wasted = len(steps) - useful
        details = {
            "steps": len(steps),
            "useful": useful,
            "repeats": repeats[:MAX_LISTED],
            "failed": failed[:MAX_LISTED],
            "pass_at": PASS_AT,
        }
        if not wasted:
            explanation = f"All {len(steps)} steps were distinct and useful."
        else:
            parts = []
            if repeats:
                top = repeats[0]
                parts.append(f"{top['kind']} {top['name'] or '(unnamed)'} ran {top['count']} times with the same input")
            if failed:
                parts.append(f"{len(failed)} distinct step{'s' if len(failed) != 1 else ''} only ever failed")
            explanation = f"{useful} of {len(steps)} steps were useful: " + "; ".join(parts) + "."
        return EvalResult(
            value=value,
            passed=passed,
            label="efficient" if passed else "inefficient",
            explanation=explanation,
            details=details,
        )
