"""A rule's daily judge budget: reserve the estimate before a call, settle with the real calls after.

Checking "spent < cap" and then calling let two workers pass the check together and both spend. Instead the
estimate is reserved in the ledger (a ``JudgeCall`` with ``estimated=True``) under a lock on the rule's row,
so the next worker's check already counts it; when the judge answers (or fails having spent something), the
reservation is replaced by the calls actually made. A reservation left behind by a worker killed mid-call
stays in the day's spend: spend is over-estimated for a moment, never under-reported.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from evals.cost import judgement_tokens
from evals.evaluators.types import EvalTarget
from evals.models import EvalRule, JudgeCall, Score
from traces.pricing import cost_for


def spent_today(rule: EvalRule, day: date | None = None) -> float:
    """The rule's judge spend today, reservations included."""
    day = day or timezone.now().date()
    return JudgeCall.objects.filter(rule=rule, day=day).aggregate(s=Sum("cost"))["s"] or 0.0


def estimate_cost(*, evaluator: str, target: EvalTarget, model: str, prices: dict | None = None) -> float:
    """What one judgement of this target should cost at most, from its input sizes and the model's price.

    Context precision makes one call per retrieved document. An unknown price estimates 0 (its calls cost 0
    in the ledger too, so a cap on an unpriced model cannot be enforced; the rule page says the cost is unknown).
    """
    input_tokens, output_tokens = judgement_tokens(
        evaluator, judged_chars(evaluator, target), documents=len(target.context)
    )
    return cost_for(model, input_tokens, output_tokens, prices) or 0.0


def judged_chars(evaluator: str, target: EvalTarget) -> int:
    """The characters of inputs one judgement of ``target`` sends, capped as the judge caps them."""
    budget = settings.PEEKR_JUDGE_MAX_INPUT_CHARS
    chars = min(budget, len(target.input_text or "") + len(target.output_text or "") + sum(map(len, target.context)))
    if evaluator == "context_precision":
        calls = max(1, len(target.context))
        chars = min(budget, chars + len(target.output_text or "") * (calls - 1))
    return chars


def budget_reserve(*, rule: EvalRule, score: Score, estimate: float, model: str) -> JudgeCall | None:
    """Reserve ``estimate`` in today's ledger, or None when it would take the rule past its daily cap."""
    with transaction.atomic():
        locked = EvalRule.objects.filter(pk=rule.pk)
        if connection.features.has_select_for_update:
            locked = locked.select_for_update()  # SQLite: the IMMEDIATE transaction already serialises writers
        locked.values_list("pk").first()
        if rule.daily_cost_cap is not None and spent_today(rule) + estimate > rule.daily_cost_cap:
            return None
        return JudgeCall.objects.create(
            project_id=score.project_id,
            rule=rule,
            score=score,
            model=model,
            cost=estimate,
            estimated=True,
            day=timezone.now().date(),
        )


def budget_release(reservation: JudgeCall | None) -> None:
    """Drop a reservation: the real calls were recorded, or nothing was spent."""
    if reservation is not None:
        JudgeCall.objects.filter(pk=reservation.pk).delete()


def over_cap_reason(rule: EvalRule) -> str:
    return f"skipped for budget: daily cap ${rule.daily_cost_cap:g} reached"
