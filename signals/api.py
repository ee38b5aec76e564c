"""JSON API of signals: the signals with filters and counts per kind, and the project's routing policy."""

from ninja import Query, Router

from peekr_web.schemas import Error
from signals import routing, selectors
from signals.models import RoutingPolicy
from signals.schemas import PolicyIn, PolicyOut, SignalPage, SignalQuery
from traces.access import Action, api_requires

router = Router(tags=["signals"])


@router.get("/signals", response=SignalPage, summary="List user signals, with counts per kind")
@api_requires(Action.VIEW_TRACES)
def list_signals(request, q: Query[SignalQuery]):
    """Newest first; filter by kind, trace_id, session_id, user_id and time (since inclusive, until exclusive);
    page with limit and offset. `counts` counts every kind under the other filters."""
    filters = q.dict(exclude={"limit", "offset", "kind"})
    base = selectors.signals_filter(project=request.project, **{k: v for k, v in filters.items() if v})
    qs = base.filter(kind=q.kind) if q.kind else base
    counts = selectors.counts_by_kind(base)
    rows = qs.select_related("trace")[q.offset : q.offset + q.limit]
    items = [
        {
            **{
                f: getattr(s, f)
                for f in ("id", "kind", "value", "source", "session_id", "user_id", "evidence", "created_at")
            },
            "trace_id": s.trace.trace_id,
        }  # fmt: skip
        for s in rows
    ]
    return {"count": counts[q.kind] if q.kind else sum(counts.values()), "counts": counts, "items": items}


def policy_out(policy: RoutingPolicy) -> dict:
    return {
        "actions": routing.actions_of(policy),
        **{f: getattr(policy, f) for f in PolicyOut.model_fields if f != "actions"},
    }


@router.get("/routing-policy", response=PolicyOut, summary="The project's routing policy")
@api_requires(Action.VIEW_REVIEW)
def get_policy(request):
    """Signal kind -> actions (judge, review, golden, baseline) and the windows of the derived signals."""
    return policy_out(routing.policies_for([request.project.pk])[request.project.pk])


@router.put("/routing-policy", response={200: PolicyOut, 400: Error}, summary="Change the project's routing policy")
@api_requires(Action.MANAGE_REVIEW)
def put_policy(request, payload: PolicyIn):
    """Fields left out keep their value; so do kinds left out of `actions`. 400 with the reason for a bad window,
    threshold or pattern list; 422 for an unknown kind or action."""
    return policy_out(routing.policy_update(project=request.project, **payload.dict(exclude_unset=True)))
