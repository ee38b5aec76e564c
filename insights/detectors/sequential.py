"""Sequential execution: independent calls that waited for each other.

Rule. Under one parent, take the children that wait on something outside the process (llm, embedding,
retriever, reranker, tool, guardrail, evaluator spans, and span/chain/agent wrappers that contain one), that
finished and did not fail (failed calls are the retry-storm detector's), ordered by start. A known evaluation
library's judge calls are left to the judge detector (a metric's steps hand each other reformatted JSON, a
dependency the checks below cannot see). A group is sequential when each member started at or after the previous one ended, give or take ``JITTER_MS`` or ``JITTER_FRACTION``
of the shorter duration, and no member depends on an earlier one (``TraceIndex.sibling_deps``):

- its input, its descendants' included, contains no distinctive piece of an earlier output: the first or last
  200 normalised (lowercased, whitespace-collapsed) characters of an output of at least 20 characters;
- none of its calls continues an earlier call's conversation (re-sends its messages and adds to them);
- it does not repeat an earlier call's exact input (a retry or a duplicate, not independent work);
- and none of that holds through the siblings between them either: a call that used a tool result depends on
  the call that asked for the tool (a tool depends on the model call just before it, or on one whose output
  names it).

Running the group concurrently would take as long as its slowest member, so ``saving = sum of durations -
slowest``. A group is reported when it has ``MIN_GROUP`` members or more and the saving is at least
``MIN_SAVING_MS`` and ``MIN_SAVING_FRACTION`` of the group's total. Time only: ``saving_usd`` is 0,
concurrency costs the same tokens.

Staircases. A loop body of several calls (embed, then extract) makes siblings whose operations repeat:
embeddings, chat.completions, embeddings, chat.completions, ... Inside one iteration the extract uses the
embedding; across iterations nothing is shared. Reported per operation, that loop would give two findings with
the wrong arithmetic (all the embeddings at once, then all the extracts at once, is not a fix one can write);
so the detector reports the repeating unit instead: one finding, operation "embeddings -> chat.completions",
"15 iterations ran one after another", where an iteration's duration is its first start to its last end, and
saving = sum of iteration durations - the slowest iteration (the seed's 279 s loop that could take ~37 s).
At each position the detector tries units of 1 to ``MAX_UNIT`` consecutive calls and keeps the one covering
the most spans (ties: the shorter unit, so four independent calls are four spans, not two pairs). A unit of
one operation is the plain case: "2 spans ran one after another". Calls of one operation that are not
adjacent (another call between them) are grouped afterwards, from what no staircase took.

Message, exactly::

    Root cause: sequential execution of "chat.completions"
    2 spans ran one after another. Total: 10.5s, slowest single: 5.7s. Running them concurrently would save 4.8s.

Durations are tenths of a second rounded half up, and the saving shown is the total shown minus the slowest
shown, so the sentence's arithmetic always holds (``saving_ms`` keeps the exact figure).
Severity: critical from ``CRITICAL_SAVING_MS`` or when the saving is ``CRITICAL_TRACE_FRACTION`` of the trace.
"""

from __future__ import annotations

from collections.abc import Sequence

from insights import fixes
from insights.detectors import judge_signatures
from insights.detectors.judge_critical_path import judge_library
from insights.detectors.types import (
    IO_KINDS,
    WRAPPER_KINDS,
    Finding,
    SpanView,
    TraceIndex,
    format_tenths,
    tenths,
)

ID = "sequential_execution"
JITTER_MS = 5.0
JITTER_FRACTION = 0.02
MIN_GROUP = 2
MIN_SAVING_MS = 500.0
MIN_SAVING_FRACTION = 0.20
MAX_UNIT = 4
CRITICAL_SAVING_MS = 10_000.0
CRITICAL_TRACE_FRACTION = 0.5
UNIT_SEPARATOR = " -> "

Iteration = Sequence[SpanView]


def detect(index: TraceIndex) -> list[Finding]:
    findings: list[Finding] = []
    for parent_id, children in index.children.items():
        candidates = [s for s in children if _is_candidate(index, s)]
        if len(candidates) < MIN_GROUP:
            continue
        ops = [index.op(s) for s in candidates]
        if len(set(ops)) == len(ops):
            continue  # no operation repeats: neither a group nor a staircase
        taken: set[str] = set()
        i = 0
        while i < len(candidates) - 1:
            # A unit starting here repeats only if its first operation comes again.
            iterations = _staircase_at(index, candidates, ops, i) if ops[i] in ops[i + 1 :] else []
            finding = _finding(index, parent_id, iterations) if iterations else None
            if finding is None:
                i += 1
                continue
            findings.append(finding)
            taken.update(finding.span_ids)
            i += sum(len(it) for it in iterations)
        by_op: dict[str, list[SpanView]] = {}
        for s, op in zip(candidates, ops, strict=True):
            if s.span_id not in taken:
                by_op.setdefault(op, []).append(s)
        for group in by_op.values():
            if len(group) >= MIN_GROUP:
                findings.extend(_scattered_runs(index, parent_id, group))
    return findings


# The steps of an evaluation library's metric (ragas: statements, then verdicts on them) hand each other
# re-formatted structured output, which the dependency check cannot see; the judge detector reports them.
_LIBRARY_JUDGES = frozenset(
    {judge_signatures.RAGAS, judge_signatures.DEEPEVAL, judge_signatures.OPENEVALS, judge_signatures.LANGCHAIN}
)


def _is_candidate(index: TraceIndex, s: SpanView) -> bool:
    if s.status == "error" or index.end(s) is None:
        return False
    if s.kind == "llm" and judge_library(s) in _LIBRARY_JUDGES:
        return False
    return s.kind in IO_KINDS or (s.kind in WRAPPER_KINDS and index.has_io[s.span_id])


def _bounds(index: TraceIndex, it: Iteration) -> tuple[float, float]:
    # Candidates are in start order and all have an end.
    first = it[0]
    if len(it) == 1:
        return first.start_ms, index.end(first) or first.start_ms
    return first.start_ms, max(index.end(s) or s.start_ms for s in it)


def _after(index: TraceIndex, prev: Iteration, nxt: Iteration) -> bool:
    """The next group started once the previous one had ended, give or take clock jitter."""
    prev_start, prev_end = _bounds(index, prev)
    next_start, next_end = _bounds(index, nxt)
    shorter = min(prev_end - prev_start, next_end - next_start)
    return next_start >= prev_end - max(JITTER_MS, JITTER_FRACTION * shorter)


def _staircase_at(index: TraceIndex, candidates: list[SpanView], ops: list[str], i: int) -> list[Iteration]:
    best: list[Iteration] = []
    n = len(candidates)
    for size in range(1, MAX_UNIT + 1):
        if i + 2 * size > n:
            break
        unit = ops[i : i + size]
        iterations: list[Iteration] = [candidates[i : i + size]]
        j = i + size
        while j + size <= n and ops[j : j + size] == unit:
            nxt = candidates[j : j + size]
            if not _after(index, iterations[-1], nxt) or any(index.depends_any(nxt, prev) for prev in iterations):
                break
            iterations.append(nxt)
            j += size
        if len(iterations) >= MIN_GROUP and len(iterations) * size > sum(len(it) for it in best):
            best = iterations
    return best


def _scattered_runs(index: TraceIndex, parent_id: str | None, group: list[SpanView]) -> list[Finding]:
    """Runs of one operation with other calls between them; a run ends where a call overlaps or depends on it."""
    found: list[Finding] = []
    run: list[Iteration] = [[group[0]]]
    for s in group[1:]:
        if _after(index, run[-1], [s]) and not any(index.depends_any([s], prev) for prev in run):
            run.append([s])
            continue
        if finding := _finding(index, parent_id, run):
            found.append(finding)
        run = [[s]]
    if finding := _finding(index, parent_id, run):
        found.append(finding)
    return found


def _finding(index: TraceIndex, parent_id: str | None, iterations: list[Iteration]) -> Finding | None:
    if len(iterations) < MIN_GROUP:
        return None
    durations = []
    for it in iterations:
        start, end = _bounds(index, it)
        durations.append(end - start)
    total, slowest = sum(durations), max(durations)
    saving = total - slowest
    if saving < MIN_SAVING_MS or saving < MIN_SAVING_FRACTION * total:
        return None

    spans = [s for it in iterations for s in it]
    unit_ops = [index.op(s) for s in iterations[0]]
    operation = UNIT_SEPARATOR.join(unit_ops)
    noun = "spans" if len(unit_ops) == 1 else "iterations"
    total_t, slowest_t = tenths(total), tenths(slowest)
    message = (
        f'Root cause: sequential execution of "{operation}"\n'
        f"{len(iterations)} {noun} ran one after another. Total: {format_tenths(total_t)}, "
        f"slowest single: {format_tenths(slowest_t)}. "
        f"Running them concurrently would save {format_tenths(total_t - slowest_t)}."
    )
    parent = index.by_id.get(parent_id) if parent_id else None
    root_duration = index.duration(index.root) if index.root else None
    critical = saving >= CRITICAL_SAVING_MS or bool(root_duration and saving >= CRITICAL_TRACE_FRACTION * root_duration)
    models = [s.model for s in iterations[0]]
    provider = next((s.provider for s in spans if s.provider), "")
    return Finding(
        detector=ID,
        severity="critical" if critical else "warning",
        title=f'Sequential execution of "{operation}"',
        message=message,
        span_ids=[s.span_id for s in spans],
        operation=operation,
        parent_operation=index.op(parent) if parent else "",
        service=index.service_of(spans),
        saving_ms=saving,
        saving_usd=0.0,
        fix=fixes.sequential_fix(
            unit_ops=unit_ops,
            models=models,
            pair_models=[it[0].model for it in iterations[:2]],
            count=len(iterations),
            language=index.language,
            provider=provider,
            tool_names=[s.tool_name for s in iterations[0]],
        ),
        details={
            "shape": noun,
            "count": len(iterations),
            "unit": unit_ops,
            "iterations": [[s.span_id for s in it] for it in iterations],
            "durations_ms": durations,
            "total_ms": total,
            "slowest_ms": slowest,
            "models": sorted({s.model for s in spans if s.model}),
        },
    )
