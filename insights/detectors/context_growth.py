"""Context growth: an agent loop re-sending an ever longer history, step after step.

Rule. llm calls that did not fail and report input tokens are grouped into conversations: same operation and
model, and the same first message (the system prompt or the task), or the same parent when messages were not
recorded. Stacked instrumentations' nested copies of one call count once. In each conversation, ordered by
start, a run is a stretch where input tokens never fall by more than ``DIP_TOLERANCE`` from one call to the
next. A run is reported when it has ``MIN_STEPS`` calls or more, its last call has ``GROWTH_RATIO`` times the
first call's input tokens and ``MIN_ADDED_TOKENS`` more, and, when messages were recorded, at least
``CONTINUATION_FRACTION`` of its steps re-send the previous step's messages (so unrelated calls that happen to
grow, like documents sorted by size, are not a loop). The longest-growing run of a conversation is reported.

Saving: only money, and an upper bound: what the tokens above the first step's input cost, had the history
stayed at its first size. Each call's cost is split between input and output by token counts (output tokens
priced like input ones, which overstates the input share a little when output is dearer):
``sum(cost_i * (input_i - input_first) / (input_i + output_i))``. Severity: warning, critical from
``CRITICAL_INPUT_TOKENS`` input tokens in one call.
"""

from __future__ import annotations

from itertools import pairwise

from insights import fixes
from insights.detectors.types import Finding, SpanView, TraceIndex, format_usd

ID = "context_growth"
MIN_STEPS = 5
GROWTH_RATIO = 2.0
MIN_ADDED_TOKENS = 5_000
DIP_TOLERANCE = 0.02
CONTINUATION_FRACTION = 0.5
CRITICAL_INPUT_TOKENS = 100_000


def detect(index: TraceIndex) -> list[Finding]:
    conversations: dict[tuple[str, str, object], list[SpanView]] = {}
    for s in index.spans:
        if s.kind == "llm" and s.input_tokens is not None and s.status != "error":
            messages = index.message_key(s)
            thread = ("messages", messages[0]) if messages else ("parent", s.parent_span_id)
            conversations.setdefault((index.op(s), s.model, thread), []).append(s)
    findings = []
    for (operation, model, thread), calls in conversations.items():
        if len(calls) < MIN_STEPS:
            continue
        calls = index.outermost(calls)
        best: list[SpanView] = []
        for run in _runs(calls):
            if _qualifies(index, run, has_messages=thread[0] == "messages") and _added(run) > _added(best):
                best = run
        if best:
            findings.append(_finding(index, operation, model, best))
    return findings


def _runs(calls: list[SpanView]) -> list[list[SpanView]]:
    runs, run = [], [calls[0]]
    for prev, s in pairwise(calls):
        if (s.input_tokens or 0) >= (prev.input_tokens or 0) * (1 - DIP_TOLERANCE):
            run.append(s)
        else:
            runs.append(run)
            run = [s]
    runs.append(run)
    return [r for r in runs if len(r) >= MIN_STEPS]


def _added(run: list[SpanView]) -> int:
    return (run[-1].input_tokens or 0) - (run[0].input_tokens or 0) if run else -1


def _qualifies(index: TraceIndex, run: list[SpanView], *, has_messages: bool) -> bool:
    first, last = run[0].input_tokens or 0, run[-1].input_tokens or 0
    if last - first < MIN_ADDED_TOKENS or last < GROWTH_RATIO * max(first, 1):
        return False
    if not has_messages:
        return True
    continued = sum(1 for a, b in pairwise(run) if index.continues(b, a))
    return continued >= CONTINUATION_FRACTION * (len(run) - 1)


def _finding(index: TraceIndex, operation: str, model: str, run: list[SpanView]) -> Finding:
    first = run[0].input_tokens or 0
    extra = sum((s.input_tokens or 0) - first for s in run[1:])
    saving_usd = 0.0
    for s in run[1:]:
        tokens = (s.input_tokens or 0) + (s.output_tokens or 0)
        if s.cost and tokens:
            saving_usd += s.cost * ((s.input_tokens or 0) - first) / tokens
    last = run[-1].input_tokens or 0
    label = f'"{operation}"' + (f" ({model})" if model else "")
    return Finding(
        detector=ID,
        severity="critical" if last >= CRITICAL_INPUT_TOKENS else "warning",
        title=f"Context growth in {label}",
        message=(
            f"Root cause: context growth in {label}\n"
            f"Input tokens rose step after step over {len(run)} calls, from {first:,} to {last:,}: "
            f"{extra:,} tokens of history re-sent. Trimming or summarising it would save up to {format_usd(saving_usd)}."
        ),
        span_ids=[s.span_id for s in run],
        operation=operation,
        parent_operation=index.parent_op(run[0]),
        service=index.service_of(run),
        saving_ms=0.0,
        saving_usd=saving_usd,
        fix=fixes.context_growth_fix(operation=operation, model=model, provider=run[0].provider),
        details={
            "steps": len(run),
            "input_tokens": [s.input_tokens for s in run],
            "extra_input_tokens": extra,
            "model": model,
        },
    )
