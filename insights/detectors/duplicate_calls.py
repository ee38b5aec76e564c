"""Duplicate calls: the same prompt sent more than once in one trace.

Rule. llm and embedding calls that did not fail, grouped by (operation, model, prompt), anywhere in the trace:
the prompt is the input messages as (role, normalised content) pairs, or the normalised input text when there
are no messages, and must not be empty. A group of two or more is a duplicate. A call recorded twice by stacked
instrumentations (a chat span inside a chat span) counts once: only the outermost of nested spans is kept. A
failed call followed by the same prompt is a retry, not a duplicate, so failures are left out. Intentional
sampling (the same prompt n times for self-consistency) reads the same; it is rare enough to accept.

One finding per operation (its groups in ``details``). Saving: the repeats, i.e. every call of a group after
the first; their summed duration and cost. Severity: warning, critical from ``CRITICAL_REPEATS`` repeats.
"""

from __future__ import annotations

from insights import fixes
from insights.detectors.types import Finding, SpanView, TraceIndex, format_seconds, format_usd

ID = "duplicate_calls"
KINDS = frozenset({"llm", "embedding"})
CRITICAL_REPEATS = 5
PREVIEW_CHARS = 120


def _prompt_key(index: TraceIndex, s: SpanView) -> object:
    messages = index.message_key(s)
    if messages and any(content for _, content in messages):
        return messages
    return index.input_of(s) or None


def detect(index: TraceIndex) -> list[Finding]:
    groups: dict[tuple[str, str, object], list[SpanView]] = {}
    for s in index.spans:
        if s.kind in KINDS and s.status != "error":
            key = _prompt_key(index, s)
            if key is not None:
                groups.setdefault((index.op(s), s.model, key), []).append(s)
    by_op: dict[str, list[list[SpanView]]] = {}
    for (operation, _, _), calls in groups.items():
        if len(calls) > 1:
            calls = index.outermost(calls)
            if len(calls) > 1:
                by_op.setdefault(operation, []).append(calls)

    findings = []
    for operation, dup_groups in by_op.items():
        repeats = [s for calls in dup_groups for s in calls[1:]]
        saving_ms = sum(index.duration(s) or 0.0 for s in repeats)
        saving_usd = sum(index.subtree_cost(s) for s in repeats)
        first = dup_groups[0][0]
        if len(dup_groups) == 1:
            what = f"The same prompt was sent {len(dup_groups[0])} times in this trace"
        else:
            what = f"{len(dup_groups)} prompts were each sent more than once in this trace ({len(repeats)} repeats)"
        findings.append(
            Finding(
                detector=ID,
                severity="critical" if len(repeats) >= CRITICAL_REPEATS else "warning",
                title=f'Duplicate calls to "{operation}"',
                message=(
                    f'Root cause: duplicate calls to "{operation}"\n'
                    f"{what}. Reusing the first answer would save {format_seconds(saving_ms)} "
                    f"and {format_usd(saving_usd)}."
                ),
                span_ids=[s.span_id for calls in dup_groups for s in calls],
                operation=operation,
                parent_operation=index.parent_op(first),
                service=index.service_of([first]),
                saving_ms=saving_ms,
                saving_usd=saving_usd,
                fix=fixes.duplicate_fix(operation=operation, model=first.model, provider=first.provider),
                details={
                    "repeats": len(repeats),
                    "groups": [
                        {
                            "span_ids": [s.span_id for s in calls],
                            "model": calls[0].model,
                            "prompt_preview": (calls[0].input_text or index.input_of(calls[0]))[:PREVIEW_CHARS],
                        }
                        for calls in dup_groups
                    ],
                },
            )
        )
    return findings
