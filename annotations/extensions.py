"""What annotations adds to traces' commands, through traces.extensions (registered in ready()): the demo
project's review queue, made by peekr_setup with the project."""

from __future__ import annotations

from annotations.models import RoutingRule
from annotations.services import queue_create, routing_rule_create
from traces import extensions

DEMO_QUEUE = "Flagged by Peekr"


def demo_queue_create(project) -> None:
    """A review queue for the demo project, so that its flagged traffic has somewhere to go: failing rules,
    thumbs-down and detector findings are routed to it. Made once, with the project (a user may delete it)."""
    queue = queue_create(
        project=project,
        name=DEMO_QUEUE,
        description="Traces a rule failed on, a user gave a thumbs down, or a detector found a problem in.",
        score_configs=[{"name": "correct", "type": "boolean"}],
    )
    kind_ = RoutingRule.Kind
    for kind in (kind_.FAILING_RULE, kind_.THUMBS_DOWN, kind_.FINDING, kind_.SIGNAL):
        routing_rule_create(queue=queue, kind=kind)


def trace_in_review(project_id: int, trace_pk: int) -> bool:
    """A reviewer who may not browse the explorer may open a trace that is in one of the project's queues."""
    from annotations.models import QueueItem

    return QueueItem.objects.filter(queue__project_id=project_id, trace_id=trace_pk).exists()


def register() -> None:
    extensions.demo_project_hook_register(demo_queue_create)
    extensions.review_trace_hook_register(trace_in_review)
