"""Plain data passed to evaluators: no Django, so every evaluator is tested without a database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class LazyAttributes(dict):
    """A span's attributes, built on first use: rebuilding the raw attributes (traces.lean) costs about a fifth of
    evaluating a trace, and few rules read them. A dict (rules check ``isinstance(x, dict)``) that fills itself
    before any read made through its methods."""

    def __init__(self, load: Callable[[], dict[str, Any]]):
        super().__init__()
        self._load: Callable[[], dict[str, Any]] | None = load

    def _fill(self) -> None:
        if self._load is not None:
            load, self._load = self._load, None
            super().update(load())

    def __getitem__(self, key):
        self._fill()
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._fill()
        return super().__contains__(key)

    def __iter__(self):
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __eq__(self, other) -> bool:
        self._fill()
        return super().__eq__(other)

    __hash__ = None  # as dict's

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    def get(self, key, default=None):
        self._fill()
        return super().get(key, default)

    def keys(self):
        self._fill()
        return super().keys()

    def values(self):
        self._fill()
        return super().values()

    def items(self):
        self._fill()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self._fill()
        return dict(self.items())


@dataclass
class EvalTarget:
    """What an evaluator looks at: one span (for span rules) with its trace around it, or a whole trace."""

    span_id: str = ""
    name: str = ""
    kind: str = "span"  # llm, chain, tool, retriever, embedding, agent, reranker, guardrail, evaluator, span
    model: str = ""
    input_text: str = ""  # for llm spans: the last user message
    output_text: str = ""  # for llm spans: the answer
    input_messages: list[dict[str, Any]] = field(default_factory=list)
    output_messages: list[dict[str, Any]] = field(default_factory=list)
    # Context for judges: documents of the retriever spans before this span in the trace, else its input.
    context: list[str] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)  # {"id", "content", "score", "metadata"}
    tool_name: str = ""
    tool_arguments: str = ""
    tool_result: str = ""
    status: str = "unset"  # unset | ok | error
    error: str = ""
    duration_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # For trace-level evaluators (and span evaluators that need the trace): every span of the trace, in start
    # order, as EvalTargets without their own `spans`.
    spans: list[EvalTarget] = field(default_factory=list)


@dataclass
class EvalConfig:
    """Per-project / per-rule settings an evaluator may need."""

    allowed_tools: list[str] = field(default_factory=list)
    json_schemas: dict[str, dict] = field(default_factory=dict)  # span-name glob pattern -> JSON Schema
    max_turns: int = 20
    timeout_ms: float = 30_000.0
    expected_tools: list[str] = field(default_factory=list)  # from a golden case, when there is one
    rubric: dict[str, Any] | None = None  # {"criteria": str, "scale": {"min": 1, "max": 5}, "pass_threshold": 4}
    threshold: float = 0.5  # judges: a score at or above passes
    # The project's privacy custom patterns ({"name", "pattern", "action"}): the PII rule flags what they match.
    custom_patterns: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EvalResult:
    value: float | None = None
    passed: bool | None = None
    label: str = ""
    explanation: str = ""
    # e.g. faithfulness: {"claims": [{"claim", "verdict", "reason"}]}
    details: dict[str, Any] = field(default_factory=dict)
    status: str = "done"  # done | error | skipped
    error: str = ""
    cost: float = 0.0  # USD spent by a judge
    latency_ms: float = 0.0
    judge_model: str = ""
    raw: str = ""  # a judge's raw reply, kept when it could not be parsed
