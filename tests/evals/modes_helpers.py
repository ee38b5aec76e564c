"""Factories for the evaluator-mode tests: human reviews that calibrate a judge, through the real review path."""

from __future__ import annotations

from annotations import services as review
from evals.evaluators.types import EvalResult
from evals.services import score_record
from tests.base import make_trace
from traces.models import Trace


def calibrate_judge(project, reviewer, *, evaluator: str = "faithfulness", n: int = 50, agree: int = 45) -> None:
    """n traces the judge scored, reviewed by ``reviewer`` in a queue with a boolean score named like the judge:
    the first ``agree`` reviews agree with the judge (agreement agree / n), the others contradict it."""
    queue = review.queue_create(
        project=project, name=f"calibrate {evaluator}", score_configs=[{"name": evaluator, "type": "boolean"}]
    )
    for i in range(n):
        make_trace(project, n_llm=1, name=f"calibration {i}")
        trace = Trace.objects.filter(project=project).order_by("-pk").first()
        judge_passed = i % 2 == 0
        score_record(trace=trace, span=None, evaluator=evaluator, source="judge", judge_model="judge-model",
                     result=EvalResult(value=1.0 if judge_passed else 0.2, passed=judge_passed))  # fmt: skip
        (item,) = review.queue_items_add(queue=queue, trace_pks=[trace.pk])
        human = judge_passed if i < agree else not judge_passed
        review.annotation_submit(item=item, reviewer=reviewer, values={evaluator: human})
