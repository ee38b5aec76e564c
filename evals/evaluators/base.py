"""The evaluator base class and the small helpers every rule shares.

An evaluator is a stateless object registered once (see ``evals.evaluators.REGISTRY``). Rules and agent
metrics are pure Python and synchronous; judges subclass ``Evaluator`` with kind "judge" and an async
evaluate of their own. No Django here.

Evaluators never raise on odd input: text fields are coerced with ``text_of`` (None, bytes, numbers, dicts
all become text) and capped at ``MAX_SCAN_CHARS``, so a 50 MB tool result costs what 100 KB costs.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

MAX_SCAN_CHARS = 100_000

# Spans whose output is produced by the model or the app around it (as opposed to documents, vectors or a
# tool's return value, which the instrumentation serialises on its own terms).
ANSWER_KINDS = frozenset({"llm", "agent", "chain", "span", "guardrail"})


class Evaluator:
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    kind: ClassVar[str] = "rule"  # rule | agent | judge
    target: ClassVar[str] = "span"  # span | trace
    description: ClassVar[str] = ""

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        """Whether this evaluator has anything to say about the target. Cheap: it runs on every span.

        ``config`` is optional so ``applies(target)`` works; rules that depend on project settings
        (allowed tools, schemas) read the defaults when it is missing, which usually means "no".
        """
        return True

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"


def text_of(value: Any, limit: int = MAX_SCAN_CHARS) -> tuple[str, bool]:
    """(text, truncated): any value as text, cut at ``limit`` characters."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value[: limit * 4]).decode("utf-8", errors="replace")
    elif isinstance(value, dict | list | tuple):
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(value)
    else:
        text = str(value)
    if len(text) > limit:
        return text[:limit], True
    return text, False


def skipped(reason: str) -> EvalResult:
    """The result of an evaluator called on a target it does not apply to."""
    return EvalResult(status="skipped", label="n/a", explanation=reason)


def mask(value: str) -> str:
    """All but the last 4 characters replaced by '*' (at least half of a short value is hidden)."""
    keep = min(4, len(value) // 2)
    return "*" * (len(value) - keep) + value[len(value) - keep :]


def scan_details(truncated: bool, scanned: int) -> dict[str, Any]:
    """Details every text-scanning rule adds, so a capped scan is never mistaken for a full one."""
    return {"truncated": True, "scanned_chars": scanned} if truncated else {}
