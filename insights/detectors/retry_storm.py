"""Retry storm: the same call failing again and again.

Rule. Under one parent, order the calls of each operation by start and take the longest run of consecutive
failures (status "error", no success of that operation between them). ``MIN_FAILURES`` or more is a storm; two
failures then a success is ordinary retrying. Saving: the failed attempts' time, counted as wall time from the
first failure's start to the last failure's end (the waits between attempts are lost too), and their cost (a
timeout after generation is still billed).

The error text tells transient failures (429, 5xx, timeouts: back off and retry a few times) from permanent
ones (400/401/403/404/422, context length exceeded, invalid request, authentication: retrying cannot succeed),
see ``_PERMANENT_RE``; the fix differs. Severity: critical from ``CRITICAL_FAILURES`` failures, when no attempt
succeeded, or when the error is permanent; warning otherwise.
"""

from __future__ import annotations

import re
from collections import Counter

from insights import fixes
from insights.detectors.types import Finding, SpanView, TraceIndex, format_seconds, format_usd

ID = "retry_storm"
MIN_FAILURES = 3
CRITICAL_FAILURES = 10
ERROR_PREVIEW_CHARS = 120

_PERMANENT_RE = re.compile(
    r"\b(?:400|401|403|404|422)\b|bad ?request|badrequesterror|invalid[_ ]request|context[_ ]length|"
    r"maximum context|too many tokens|authentication|permission ?denied|unauthori[sz]ed|not ?found|"
    r"invalid api key|incorrect api key|unsupported|validation ?error"
)
_TRANSIENT_RE = re.compile(r"\b(?:429|500|502|503|504|529)\b|rate ?limit|timeout|timed out|overloaded|unavailable")


def is_transient(error: str) -> bool:
    text = error.lower()
    return bool(_TRANSIENT_RE.search(text)) or not _PERMANENT_RE.search(text)


def detect(index: TraceIndex) -> list[Finding]:
    findings = []
    for parent_id, children in index.children.items():
        errors = sum(1 for s in children if s.status == "error")
        if errors < MIN_FAILURES:
            continue
        by_op: dict[str, list[SpanView]] = {}
        for s in children:
            by_op.setdefault(index.op(s), []).append(s)
        for operation, calls in by_op.items():
            run, best, best_at = [], [], 0
            for i, s in enumerate(calls):
                if s.status == "error":
                    run.append(s)
                    if len(run) > len(best):
                        best, best_at = list(run), i
                else:
                    run = []
            if len(best) >= MIN_FAILURES:
                succeeded = any(s.status != "error" for s in calls[best_at + 1 :])
                findings.append(_finding(index, parent_id, operation, best, succeeded))
    return findings


def _finding(
    index: TraceIndex, parent_id: str | None, operation: str, failures: list[SpanView], succeeded: bool
) -> Finding:
    start = min(s.start_ms for s in failures)
    end = max(index.end(s) or s.start_ms for s in failures)
    saving_ms = end - start
    saving_usd = sum(index.subtree_cost(s) for s in failures)
    errors = Counter(" ".join(s.error.split())[:ERROR_PREVIEW_CHARS] for s in failures if s.error)
    error = errors.most_common(1)[0][0] if errors else ""
    transient = is_transient(error)
    parent = index.by_id.get(parent_id) if parent_id else None
    parent_op = index.op(parent) if parent else ""
    where = f' under "{parent_op}"' if parent_op else ""
    outcome = "before a call succeeded" if succeeded else "and no attempt succeeded"
    message = (
        f'Root cause: retry storm on "{operation}"\n'
        f"{len(failures)} calls failed in a row{where} {outcome}"
        + (f" ({error})" if error else "")
        + f". The failed attempts took {format_seconds(saving_ms)} and {format_usd(saving_usd)}."
    )
    if not transient:
        message += " The error is not transient: retrying the same request cannot succeed."
    critical = len(failures) >= CRITICAL_FAILURES or not succeeded or not transient
    return Finding(
        detector=ID,
        severity="critical" if critical else "warning",
        title=f'Retry storm on "{operation}"',
        message=message,
        span_ids=[s.span_id for s in failures],
        operation=operation,
        parent_operation=parent_op,
        service=index.service_of(failures),
        saving_ms=saving_ms,
        saving_usd=saving_usd,
        fix=fixes.retry_fix(
            operation=operation,
            model=next((s.model for s in failures if s.model), ""),
            failures=len(failures),
            error=error,
            transient=transient,
            provider=failures[0].provider,
        ),
        details={
            "failures": len(failures),
            "succeeded": succeeded,
            "transient": transient,
            "errors": dict(errors.most_common(5)),
        },
    )
