"""Runaway loops and cascades: one parent making call after call, or an operation calling itself.

Three shapes, each with its own limit (module constants):

- loop: under one parent, more than ``STEP_LIMIT`` llm/agent calls of one operation where at least
  ``LOOP_DEPENDENT_FRACTION`` of consecutive pairs depend on each other (the later continues the earlier's
  conversation, uses its output or a tool result in between, or repeats its input): an agent that does not stop.
  Independent calls are a fan-out (or sequential execution), not a loop.
  Saving: what came after the ``STEP_LIMIT``-th call, i.e. time from its end to the end of the parent's
  last child, and the cost of the parent's children that started after it.
- fan-out: under one parent, more than ``FANOUT_LIMIT`` calls of one operation (llm, embedding, retriever,
  reranker, tool, agent...). Saving: time the fan-out ran past the end of its first ``FANOUT_LIMIT`` calls, and
  the cost of the calls beyond them.
- re-entry: a span whose operation already appears ``REENTRY_DEPTH_LIMIT`` times among its ancestors (an agent
  delegating to itself, a chain recursing). llm and embedding spans are left out: stacked instrumentations record
  one call as a chat span inside a chat span. Saving: the duration and cost of the spans one level too deep.

Severity: loop warning (critical from ``CRITICAL_LOOP_STEPS``), fan-out info (warning from
``WARNING_FANOUT_CALLS``), re-entry warning (critical from ``CRITICAL_REENTRY_DEPTH``).
"""

from __future__ import annotations

from itertools import pairwise

from insights import fixes
from insights.detectors.types import (
    IO_KINDS,
    JITTER_MS,
    WRAPPER_KINDS,
    Finding,
    SpanView,
    TraceIndex,
    format_seconds,
    format_usd,
)

ID = "runaway_loop"
STEP_LIMIT = 10
LOOP_DEPENDENT_FRACTION = 0.5
FANOUT_LIMIT = 20
REENTRY_DEPTH_LIMIT = 2
CRITICAL_LOOP_STEPS = 30
WARNING_FANOUT_CALLS = 100
CRITICAL_REENTRY_DEPTH = 5
LOOP_KINDS = frozenset({"llm", "agent"})
FANOUT_KINDS = IO_KINDS | {"agent"}
REENTRY_KINDS = frozenset({"agent", "chain", "tool", "span"})


def detect(index: TraceIndex) -> list[Finding]:
    findings: list[Finding] = []
    for parent_id, children in index.children.items():
        if len(children) <= min(STEP_LIMIT, FANOUT_LIMIT):
            continue
        by_op: dict[str, list[SpanView]] = {}
        for s in children:
            if s.kind in FANOUT_KINDS:
                by_op.setdefault(index.op(s), []).append(s)
        for operation, calls in by_op.items():
            if len(calls) > STEP_LIMIT and calls[0].kind in LOOP_KINDS and _is_loop(index, calls):
                findings.append(_loop(index, parent_id, operation, calls, children))
            elif len(calls) > FANOUT_LIMIT:
                findings.append(_fanout(index, parent_id, operation, calls))
    findings.extend(_reentries(index))
    return findings


def _is_loop(index: TraceIndex, calls: list[SpanView]) -> bool:
    dependent = sum(1 for a, b in pairwise(calls) if index.depends(b, a))
    return dependent >= LOOP_DEPENDENT_FRACTION * (len(calls) - 1)


def _money_and_time(ms: float, usd: float) -> str:
    return f"{format_seconds(ms)} and {format_usd(usd)}"


def _loop(
    index: TraceIndex, parent_id: str | None, operation: str, calls: list[SpanView], siblings: list[SpanView]
) -> Finding:
    last_kept_end = index.end(calls[STEP_LIMIT - 1]) or calls[STEP_LIMIT - 1].start_ms
    beyond = [s for s in siblings if s.start_ms >= last_kept_end - JITTER_MS]
    saving_ms = max(0.0, max((index.end(s) or s.start_ms for s in beyond), default=0.0) - last_kept_end)
    saving_usd = sum(index.subtree_cost(s) for s in beyond)
    parent_op = _parent_op(index, parent_id)
    where = f'"{parent_op}"' if parent_op else "the trace"
    model = next((c.model for c in calls if c.model), "")
    return Finding(
        detector=ID,
        severity="critical" if len(calls) >= CRITICAL_LOOP_STEPS else "warning",
        title=f'Runaway loop of "{operation}"',
        message=(
            f"Root cause: runaway loop in {where}\n"
            f'"{operation}" ran {len(calls)} times in a row, each step building on the last. '
            f"A limit of {STEP_LIMIT} steps would save {_money_and_time(saving_ms, saving_usd)}."
        ),
        span_ids=[c.span_id for c in calls],
        operation=operation,
        parent_operation=parent_op,
        service=index.service_of(calls),
        saving_ms=saving_ms,
        saving_usd=saving_usd,
        fix=fixes.loop_fix(
            shape="loop",
            operation=operation,
            model=model,
            count=len(calls),
            limit=STEP_LIMIT,
            parent_operation=parent_op,
            provider=calls[0].provider,
        ),
        details={"shape": "loop", "count": len(calls), "limit": STEP_LIMIT, "beyond_limit": len(calls) - STEP_LIMIT},
    )


def _fanout(index: TraceIndex, parent_id: str | None, operation: str, calls: list[SpanView]) -> Finding:
    kept_end = max(index.end(c) or c.start_ms for c in calls[:FANOUT_LIMIT])
    all_end = max(index.end(c) or c.start_ms for c in calls)
    saving_ms = max(0.0, all_end - kept_end)
    saving_usd = sum(index.subtree_cost(c) for c in calls[FANOUT_LIMIT:])
    parent_op = _parent_op(index, parent_id)
    where = f'"{parent_op}"' if parent_op else "the trace"
    batch = " (or batched calls)" if operation == "embeddings" else ""
    return Finding(
        detector=ID,
        severity="warning" if len(calls) >= WARNING_FANOUT_CALLS else "info",
        title=f'Fan-out of "{operation}"',
        message=(
            f'Root cause: fan-out of "{operation}" in {where}\n'
            f'One span made {len(calls)} "{operation}" calls. '
            f"A limit of {FANOUT_LIMIT} calls{batch} would save {_money_and_time(saving_ms, saving_usd)}."
        ),
        span_ids=[c.span_id for c in calls],
        operation=operation,
        parent_operation=parent_op,
        service=index.service_of(calls),
        saving_ms=saving_ms,
        saving_usd=saving_usd,
        fix=fixes.loop_fix(
            shape="fanout",
            operation=operation,
            model=next((c.model for c in calls if c.model), ""),
            count=len(calls),
            limit=FANOUT_LIMIT,
            parent_operation=parent_op,
            provider=calls[0].provider,
        ),
        details={"shape": "fanout", "count": len(calls), "limit": FANOUT_LIMIT},
    )


def _reentries(index: TraceIndex) -> list[Finding]:
    too_deep: dict[str, list[SpanView]] = {}
    max_depth: dict[str, int] = {}
    for s in index.spans:
        if s.kind not in REENTRY_KINDS or (s.kind in WRAPPER_KINDS and not index.has_io[s.span_id]):
            continue
        operation = index.op(s)
        depth = 1 + sum(1 for a in index.ancestors(s) if index.op(a) == operation)
        if depth > REENTRY_DEPTH_LIMIT:
            max_depth[operation] = max(max_depth.get(operation, 0), depth)
            if depth == REENTRY_DEPTH_LIMIT + 1:
                too_deep.setdefault(operation, []).append(s)
    findings = []
    for operation, spans in too_deep.items():
        saving_ms = sum(index.duration(s) or 0.0 for s in spans)
        saving_usd = sum(index.subtree_cost(s) for s in spans)
        depth = max_depth[operation]
        parent_op = index.parent_op(spans[0])
        findings.append(
            Finding(
                detector=ID,
                severity="critical" if depth >= CRITICAL_REENTRY_DEPTH else "warning",
                title=f'"{operation}" re-entered itself',
                message=(
                    f'Root cause: "{operation}" re-entered itself\n'
                    f"It nested {depth} levels deep. A depth limit of {REENTRY_DEPTH_LIMIT} would save "
                    f"{_money_and_time(saving_ms, saving_usd)}."
                ),
                span_ids=[s.span_id for s in spans],
                operation=operation,
                parent_operation=parent_op,
                service=index.service_of(spans),
                saving_ms=saving_ms,
                saving_usd=saving_usd,
                fix=fixes.loop_fix(
                    shape="reentry",
                    operation=operation,
                    model="",
                    count=depth,
                    limit=REENTRY_DEPTH_LIMIT,
                    parent_operation=parent_op,
                ),
                details={"shape": "reentry", "depth": depth, "limit": REENTRY_DEPTH_LIMIT},
            )
        )
    return findings


def _parent_op(index: TraceIndex, parent_id: str | None) -> str:
    parent = index.by_id.get(parent_id) if parent_id else None
    return index.op(parent) if parent else ""
