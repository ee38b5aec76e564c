"""The routing policy: which signal sets what in motion, per project, through the mechanisms that exist already.

Actions (documented in docs/architecture.md, "## Signals"):
- "judge": the trace fires the evaluation trigger "signal" (evals.models.TRIGGERS): every active rule with
  "signal" among its triggers runs its LLM judges on the trace, whatever its sample rate. A signal found by
  the pipeline's signals stage is seen by the evaluation stage of the same run (evals.services.TRIGGER_HOOKS);
  one that arrives later (feedback, abandonment, a rephrase on the previous turn) enqueues evals.evaluate_trace.
- "review": the trace matches review routing rules of kind "signal" (annotations.models.RoutingRule); a project
  without one gets a "User signals" queue with that rule the first time a signal needs review. Later signals
  enqueue annotations.route_trace; the pipeline's routing stage reads them (annotations SIGNAL_REVIEW_HOOKS).
- "golden": a candidate for the golden set: an item in the project's "Golden set candidates" queue (reason
  "golden candidate: <kind>"), from which reviewers promote cases to a golden set as from any queue.
- "baseline": nothing is routed; the signal only counts in the quality aggregates (metrics' rollups).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from peekr_web.errors import Invalid
from signals.derive import DEFAULT_ESCALATION_PATTERNS
from signals.models import RoutingPolicy, Signal, SignalKind

log = logging.getLogger(__name__)

ACTIONS = ("judge", "review", "golden", "baseline")
DEFAULT_ACTIONS: dict[str, list[str]] = {
    "rephrase": ["judge"],
    "abandonment": ["review"],
    "escalation": ["judge", "review"],
    "thumbs_down": ["judge", "review", "golden"],
    "thumbs_up": ["baseline"],
    "task_completed": ["baseline"],
    "rating": ["baseline"],
    "comment": ["baseline"],
    "edit": ["baseline"],
}
REVIEW_QUEUE = "User signals"
GOLDEN_QUEUE = "Golden set candidates"


class PolicyInvalid(Invalid, ValueError):
    pass


def policy_defaults(project_id: int) -> RoutingPolicy:
    return RoutingPolicy(project_id=project_id, escalation_patterns=list(DEFAULT_ESCALATION_PATTERNS))


def policies_for(project_ids) -> dict[int, RoutingPolicy]:
    """Each project's policy (stored, or the defaults), in one query."""
    stored = {p.project_id: p for p in RoutingPolicy.objects.filter(project_id__in=set(project_ids))}
    return {pk: stored.get(pk) or policy_defaults(pk) for pk in set(project_ids)}


def actions_of(policy: RoutingPolicy) -> dict[str, list[str]]:
    """The full table: the project's choices over the defaults."""
    return {kind: list((policy.actions or {}).get(kind, DEFAULT_ACTIONS[kind])) for kind in SignalKind.values}


def policy_update(
    *,
    project,
    actions: dict[str, list[str]] | None = None,
    rephrase_window_seconds: int | None = None,
    rephrase_threshold: float | None = None,
    abandonment_quiet_seconds: int | None = None,
    escalation_patterns: list[str] | None = None,
) -> RoutingPolicy:
    """Change the project's policy; refused with a reason for an unknown kind or action or a bad window."""
    policy = policies_for([project.pk])[project.pk]
    if actions is not None:
        bad_kinds = sorted(set(actions) - set(SignalKind.values))
        if bad_kinds:
            raise PolicyInvalid(
                f"unknown signal kind(s): {', '.join(bad_kinds)}; known: {', '.join(SignalKind.values)}"
            )
        for kind, acts in actions.items():
            bad = [a for a in acts if a not in ACTIONS]
            if bad:
                raise PolicyInvalid(f"{kind}: unknown action(s) {', '.join(bad)}; known: {', '.join(ACTIONS)}")
        policy.actions = {
            **(policy.actions or {}),
            **{k: sorted(set(v), key=ACTIONS.index) for k, v in actions.items()},
        }
    if rephrase_window_seconds is not None:
        if not 1 <= rephrase_window_seconds <= 86400:
            raise PolicyInvalid("rephrase_window_seconds must be between 1 and 86400")
        policy.rephrase_window_seconds = rephrase_window_seconds
    if rephrase_threshold is not None:
        if not 50 <= rephrase_threshold <= 100:
            raise PolicyInvalid("rephrase_threshold (token_set_ratio, 0-100) must be between 50 and 100")
        policy.rephrase_threshold = rephrase_threshold
    if abandonment_quiet_seconds is not None:
        if not 60 <= abandonment_quiet_seconds <= 7 * 86400:
            raise PolicyInvalid("abandonment_quiet_seconds must be between 60 and 604800")
        policy.abandonment_quiet_seconds = abandonment_quiet_seconds
    if escalation_patterns is not None:
        patterns = [p.strip() for p in escalation_patterns if p and p.strip()]
        if len(patterns) > 50 or any(len(p) > 100 for p in patterns):
            raise PolicyInvalid("escalation_patterns: at most 50 patterns of at most 100 characters")
        policy.escalation_patterns = patterns
    policy.updated_at = timezone.now()
    policy.save()
    return policy


def _kinds_by_trace(trace_pks: list[int]) -> tuple[dict[int, set[str]], dict[int, int]]:
    kinds: dict[int, set[str]] = {}
    project_of: dict[int, int] = {}
    for trace_pk, kind, project_pk in Signal.objects.filter(trace_id__in=trace_pks).values_list(
        "trace_id", "kind", "project_id"
    ):
        kinds.setdefault(trace_pk, set()).add(kind)
        project_of[trace_pk] = project_pk
    return kinds, project_of


def traces_with_action(trace_pks: list[int], action: str) -> dict[int, set[str]]:
    """trace pk -> its signal kinds whose policy includes the action (traces with none left out)."""
    kinds, project_of = _kinds_by_trace(trace_pks)
    if not kinds:
        return {}
    tables = {pk: actions_of(p) for pk, p in policies_for(project_of.values()).items()}
    out = {}
    for trace_pk, ks in kinds.items():
        hit = {k for k in ks if action in tables[project_of[trace_pk]].get(k, ())}
        if hit:
            out[trace_pk] = hit
    return out


def judge_trigger(trace_pks: list[int]) -> set[int]:
    """evals.services.TRIGGER_HOOKS: the traces that fire the "signal" trigger."""
    return set(traces_with_action(trace_pks, "judge"))


def review_kinds(trace_pks: list[int]) -> dict[int, set[str]]:
    """annotations.services.SIGNAL_REVIEW_HOOKS: the signal kinds each trace is sent to review for."""
    return traces_with_action(trace_pks, "review")


def review_queue_ensure(project_ids) -> None:
    """A project whose signals go to review gets a queue with a "signal" routing rule if it has none."""
    from annotations.models import Queue, RoutingRule
    from annotations.services import queue_create, routing_rule_create

    have = set(
        RoutingRule.objects.filter(
            queue__project_id__in=set(project_ids), kind=RoutingRule.Kind.SIGNAL, active=True
        ).values_list("queue__project_id", flat=True)
    )
    for project_id in set(project_ids) - have:
        with transaction.atomic():
            queue = Queue.objects.filter(project_id=project_id, name=REVIEW_QUEUE).first()
            if queue is None:
                from traces.models import Project

                queue = queue_create(
                    project=Project.objects.get(pk=project_id),
                    name=REVIEW_QUEUE,
                    description="Traces a user signal (abandonment, escalation, thumbs-down...) sent to review.",
                )
            routing_rule_create(queue=queue, kind=RoutingRule.Kind.SIGNAL)


def _golden_add(project_id: int, trace_pks_by_kind: dict[str, list[int]]) -> None:
    from annotations.models import Queue
    from annotations.services import queue_create, queue_items_add
    from traces.models import Project

    queue = Queue.objects.filter(project_id=project_id, name=GOLDEN_QUEUE).first()
    if queue is None:
        queue = queue_create(
            project=Project.objects.get(pk=project_id),
            name=GOLDEN_QUEUE,
            description="Traces a user signal marked as candidates for a golden set: review, then promote.",
        )
    for kind, pks in trace_pks_by_kind.items():
        queue_items_add(queue=queue, trace_pks=pks, reason=f"golden candidate: {kind}")


def _judged_projects(project_ids: set[int]) -> set[int]:
    if not project_ids:
        return set()
    from evals.selectors import projects_with_trigger

    return projects_with_trigger(project_ids=project_ids, trigger="signal")


def signals_apply(signals: list[Signal], *, in_pipeline: set[int] = frozenset()) -> dict[str, set[int]]:
    """Apply the policy to new signals. Traces still in the pipeline (in_pipeline) are judged and routed by
    its later stages; the others are sent to evals.evaluate_trace and annotations.route_trace (idempotent).
    Returns trace pks per action applied."""
    if not signals:
        return {}
    from annotations.tasks import route_trace
    from evals.tasks import evaluate_trace
    from traces.models import Trace

    tables = {pk: actions_of(p) for pk, p in policies_for({s.project_id for s in signals}).items()}
    todo: dict[str, set[int]] = {a: set() for a in ACTIONS}
    golden: dict[int, dict[str, list[int]]] = {}
    review_projects = set()
    for s in signals:
        for action in tables[s.project_id].get(s.kind, ()):
            todo[action].add(s.trace_id)
            if action == "golden":
                golden.setdefault(s.project_id, {}).setdefault(s.kind, []).append(s.trace_id)
            if action == "review":
                review_projects.add(s.project_id)
    if review_projects:
        review_queue_ensure(review_projects)
    for project_id, by_kind in golden.items():
        _golden_add(project_id, by_kind)
    # A trace is sent to the judge again only in a project with a rule that evaluates on the "signal" trigger:
    # elsewhere evaluate_trace would decide exactly as before (sampling), a task for nothing.
    judged = _judged_projects({s.project_id for s in signals if s.trace_id in todo["judge"]})
    to_judge = {s.trace_id for s in signals if s.project_id in judged} & todo["judge"]
    later = (to_judge | todo["review"]) - set(in_pipeline)
    completed = set(Trace.objects.filter(pk__in=later, completed_at__isnull=False).values_list("pk", flat=True))
    for pk in sorted(to_judge & completed):
        transaction.on_commit(lambda pk=pk: evaluate_trace.delay(pk))
    for pk in sorted(todo["review"] & completed):
        transaction.on_commit(lambda pk=pk: route_trace.delay(pk))
    return todo
