"""Cost hotspot: one call takes most of its trace's cost.

Rule, per trace. The priced calls are the spans with a cost and no priced descendant (a framework span that
repeats its child's cost is not a second call). With at least ``MIN_PRICED_CALLS`` of them (with one call there
is nothing to choose between) and a trace cost of at least ``MIN_TRACE_COST_USD``, the call whose cost is
``HOTSPOT_SHARE`` of the total or more is the hotspot.

"Across many traces of the same endpoint" is the aggregation's part: ``parent_operation`` holds the endpoint
(the root's operation), so the signature (detector, operation, endpoint, service) counts the traces of an
endpoint where this call dominates. ``saving_usd`` is 0: how much a smaller model or prompt saves is not
knowable from the trace; ``details`` has the call's cost and share. Severity: info, warning from
``WARNING_SHARE``.
"""

from __future__ import annotations

from insights import fixes
from insights.detectors.types import Finding, SpanView, TraceIndex, format_usd

ID = "cost_hotspot"
HOTSPOT_SHARE = 0.6
WARNING_SHARE = 0.8
MIN_PRICED_CALLS = 2
MIN_TRACE_COST_USD = 0.001


def detect(index: TraceIndex) -> list[Finding]:
    priced = [s for s in index.spans if s.cost and _is_leaf_priced(index, s)]
    if len(priced) < MIN_PRICED_CALLS:
        return []
    total = sum(s.cost or 0.0 for s in priced)
    if total < MIN_TRACE_COST_USD:
        return []
    top = max(priced, key=lambda s: s.cost or 0.0)
    share = (top.cost or 0.0) / total
    if share < HOTSPOT_SHARE:
        return []
    operation = index.op(top)
    endpoint = index.op(index.root) if index.root else ""
    where = f'"{endpoint}"' if endpoint else "this trace"
    model = f" ({top.model})" if top.model else ""
    return [
        Finding(
            detector=ID,
            severity="warning" if share >= WARNING_SHARE else "info",
            title=f'Cost hotspot: "{operation}" in {where}',
            message=(
                f"Root cause: cost hotspot in {where}\n"
                f'One "{operation}" call{model} cost {format_usd(top.cost or 0.0)}, {share:.0%} of the trace\'s '
                f"{format_usd(total)}. A smaller model, a shorter prompt or a cache here pays off most."
            ),
            span_ids=[top.span_id],
            operation=operation,
            parent_operation=endpoint,
            service=index.service_of([top]),
            saving_ms=0.0,
            saving_usd=0.0,
            fix=fixes.cost_hotspot_fix(operation=operation, model=top.model, provider=top.provider),
            details={
                "cost_usd": top.cost,
                "trace_cost_usd": total,
                "share": share,
                "model": top.model,
                "input_tokens": top.input_tokens,
                "output_tokens": top.output_tokens,
                "priced_calls": len(priced),
            },
        )
    ]


def _is_leaf_priced(index: TraceIndex, s: SpanView) -> bool:
    return not any(x.cost for x in index.subtree(s)[1:])
