"""Failures: error (the span's status is error), timeout (too slow, or failed with a timeout) and
tool_failure (a tool span that errored or returned nothing usable).

``error`` and ``timeout`` apply to the spans that do the work of an LLM app (llm, tool, retriever,
embedding, reranker, agent) and to any span that ended in error, so pass rates have a meaningful
denominator without a row for every wrapper span.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evals.evaluators.base import Evaluator, skipped, text_of
from evals.evaluators.rules.tool_allowed import tool_name_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

WORK_KINDS = frozenset({"llm", "tool", "retriever", "embedding", "reranker", "agent"})
MAX_ERROR_SHOWN = 500

# ReadTimeout, TimeoutError, "timed out", "time-out", "context deadline exceeded", DEADLINE_EXCEEDED,
# "504 Gateway Timeout".
_TIMEOUT_TEXT = re.compile(r"(?i)time[\s_-]?out|timed[\s_-]?out|deadline[\s_-]?exceeded|\bdeadline\b")
_NULL_RESULTS = frozenset({"", "null", "none", "nil", "undefined", "nan", "{}", "[]", '""', "''"})
# "Error: ...", "[ERROR] ...", "Exception: ...", "ValueError: ...", a Python traceback; not "Errors found: 0".
_ERROR_RESULT = re.compile(
    r"\A\W{0,3}(?i:error|exception)\b|\A[A-Z]\w{0,60}(?:Error|Exception)\b:|\ATraceback \(most recent call last\)"
)


def first_line(text: str, limit: int = 200) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def _watched(target: EvalTarget) -> bool:
    return target.kind in WORK_KINDS or target.status == "error"


def _error_text(target: EvalTarget, limit: int = MAX_ERROR_SHOWN) -> str:
    return text_of(target.error, limit)[0].strip()


class Error(Evaluator):
    name = "error"
    version = "1"
    kind = "rule"
    target = "span"
    description = "The span did not end in error."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return _watched(target)

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        if target.status != "error":
            return EvalResult(value=1.0, passed=True, label="ok", explanation="The span did not fail.")
        error = _error_text(target)
        return EvalResult(
            value=0.0,
            passed=False,
            label="error",
            explanation=f"The span failed: {first_line(error)}" if error else "The span failed.",
            details={"error": error} if error else {},
        )


class Timeout(Evaluator):
    name = "timeout"
    version = "1"
    kind = "rule"
    target = "span"
    description = "The span finished within the project's timeout and did not fail with a timeout."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        if not _watched(target):
            return False
        return _duration(target) is not None or bool(_error_text(target, 1))

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        duration = _duration(target)
        limit = config.timeout_ms if isinstance(config.timeout_ms, int | float) else 0
        details: dict[str, Any] = {"duration_ms": duration, "timeout_ms": limit}
        if limit > 0 and duration is not None and duration > limit:
            return EvalResult(
                value=0.0,
                passed=False,
                label="timeout",
                explanation=f"The span took {duration / 1000:.1f} s, over the {limit / 1000:g} s limit.",
                details={**details, "reason": "duration"},
            )
        error = _error_text(target)
        if error and _TIMEOUT_TEXT.search(error):
            return EvalResult(
                value=0.0,
                passed=False,
                label="timeout",
                explanation=f"The span failed with a timeout: {first_line(error)}",
                details={**details, "reason": "error", "error": error},
            )
        if duration is None and not error:
            return skipped("The span has no duration yet.")
        return EvalResult(value=1.0, passed=True, label="ok", explanation="The span finished in time.", details=details)


def _duration(target: EvalTarget) -> float | None:
    d = target.duration_ms
    if isinstance(d, bool) or not isinstance(d, int | float) or d != d or d < 0:
        return None
    return float(d)


def result_problem(result: str) -> str | None:
    """Why a tool's result is not usable ("empty", "null", "error"), or None."""
    stripped = result.strip()
    if stripped.lower() in _NULL_RESULTS:
        return "empty" if stripped in ("", '""', "''", "{}", "[]") else "null"
    if _ERROR_RESULT.match(stripped):
        return "error"
    if stripped[0] == "{" and ('"error' in stripped[:200] or '"isError"' in stripped[:200]):
        try:
            data = json.loads(stripped)
        except ValueError:
            return None
        # {"error": "..."} (most tool frameworks), {"status": "error", ...}, {"isError": true, ...} (MCP)
        if isinstance(data, dict) and (
            data.get("isError") is True or data.get("status") == "error" or (data.get("error") and len(data) <= 3)
        ):
            return "error"
    return None


class ToolFailure(Evaluator):
    name = "tool_failure"
    version = "1"
    kind = "rule"
    target = "span"
    description = "A tool span neither errored nor returned an empty, null or error result."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return target.kind == "tool"

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        tool = tool_name_of(target) or "the tool"
        if target.status == "error":
            error = _error_text(target)
            return EvalResult(
                value=0.0,
                passed=False,
                label="error",
                explanation=f"{tool} failed: {first_line(error)}" if error else f"{tool} failed.",
                details={"reason": "status_error", "error": error},
            )
        result, _ = text_of(target.tool_result)
        if not result.strip():
            result, _ = text_of(target.output_text)
        problem = result_problem(result)
        if problem is None:
            return EvalResult(value=1.0, passed=True, label="ok", explanation=f"{tool} returned a result.")
        if problem == "error":
            explanation = f"{tool} returned an error: {first_line(result)}"
        else:
            explanation = f"{tool} returned {'null' if problem == 'null' else 'an empty result'}."
        return EvalResult(
            value=0.0,
            passed=False,
            label=problem,
            explanation=explanation,
            details={"reason": f"{problem}_result", "result_preview": result.strip()[:200]},
        )
