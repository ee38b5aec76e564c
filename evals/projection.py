"""The inputs of a rule's projected cost, read from the project: its traffic over the last 7 days as the rule
would select and judge it, the rule's past judgements in the ledger, the judge model's price. The arithmetic
itself is evals.cost (pure).

The traffic is read from a sample (the newest SAMPLE_TRACES completed traces of the window, every span of them)
and scaled to the window's trace count: a projection must answer while the form is being typed in, whatever
the traffic. Each sampled trace goes through the live path's own code: build_targets, matches, the judges'
``applies``, trace_triggers on its stored rule scores and feedback, the signal hooks.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from evals.budget import judged_chars
from evals.cost import CHARS_PER_TOKEN, PastJudgements, Projection, SampledTrace, TargetSize, Traffic, project_cost
from evals.models import EvalRule, Feedback, JudgeCall, Score
from traces.models import Span, Trace
from traces.pricing import price_for

WINDOW_DAYS = 7
SAMPLE_TRACES = 300


def _judges(rule: EvalRule) -> list[str]:
    from evals.services import JUDGE_EVALUATORS

    return [e for e in rule.evaluators or [] if e in JUDGE_EVALUATORS]


def rule_traffic(*, rule: EvalRule, days: int = WINDOW_DAYS, sample: int = SAMPLE_TRACES, now=None) -> Traffic:
    """The window's traces (internal ones never count), and the newest of them as the rule would judge them."""
    from evals import services
    from evals.judges import JUDGES

    since = (now or timezone.now()) - timedelta(days=days)
    window = Trace.objects.filter(project_id=rule.project_id, is_internal=False, start_time__gte=since)
    total = window.count()
    judges = _judges(rule)
    if not total or not judges:
        return Traffic(days=days, traces=total)
    traces = list(window.exclude(completed_at=None).order_by("-start_time", "-pk")[:sample])
    pks = [t.pk for t in traces]
    spans_of: dict[int, list[Span]] = {pk: [] for pk in pks}
    for span in Span.objects.filter(trace_id__in=pks, is_internal=False):
        spans_of[span.trace_id].append(span)
    scores_of: dict[int, list[Score]] = {pk: [] for pk in pks}
    for score in Score.objects.filter(trace_id__in=pks, source=Score.Source.RULE).only(
        "trace_id", "evaluator", "passed", "mode"
    ):
        scores_of[score.trace_id].append(score)
    thumbs_down = set(
        Feedback.objects.filter(trace_id__in=pks, kind=Feedback.Kind.THUMBS_DOWN).values_list("trace_id", flat=True)
    )
    signalled = set().union(*(hook(pks) for hook in services.TRIGGER_HOOKS)) if pks else set()
    config = services.rule_config(rule)
    out = []
    for trace in traces:
        spans = spans_of[trace.pk]
        if not spans:
            continue
        fired = services.trace_triggers(
            trace=trace, spans=spans, rule_scores=scores_of[trace.pk], thumbs_down=trace.pk in thumbs_down
        )
        if trace.pk in signalled:
            fired.add("signal")
        span_targets, _ = services.build_targets(spans)
        by_id = {s.span_id: s for s in spans}
        targets = []
        for target in span_targets:
            span = by_id[target.span_id]
            if not services.matches(rule.filter, target, service=span.service_name, tags=services._span_tags(span)):
                continue
            for name in judges:
                if JUDGES[name].applies(target, config):
                    targets.append(TargetSize(name, judged_chars(name, target), len(target.context)))
        out.append(SampledTrace(triggered=bool(fired & set(rule.triggers or ())), targets=tuple(targets)))
    return Traffic(days=days, traces=total, sample=tuple(out))


def rule_past_judgements(*, rule: EvalRule) -> PastJudgements:
    """The rule's judgements so far as the ledger recorded them (real calls only, not reservations)."""
    if rule.pk is None:
        return PastJudgements()
    agg = JudgeCall.objects.filter(rule=rule, estimated=False).aggregate(
        n=Count("score", distinct=True), i=Sum("input_tokens"), o=Sum("output_tokens"), c=Sum("cost")
    )
    return PastJudgements(judgements=agg["n"] or 0, input_tokens=agg["i"] or 0, output_tokens=agg["o"] or 0,
                          cost=agg["c"] or 0.0)  # fmt: skip


def cost_to_date(*, rule: EvalRule) -> float:
    """Everything the rule's judges cost so far, reservations of calls in flight included (the cap counts them)."""
    if rule.pk is None:
        return 0.0
    return JudgeCall.objects.filter(rule=rule).aggregate(s=Sum("cost"))["s"] or 0.0


def _prompt_tokens(rule: EvalRule) -> dict[str, int]:
    """The rubric judge's own prompt (its criteria and scale) in tokens; ragas judges keep the fixed overhead."""
    from evals.judge_client import JudgeError
    from evals.judges.rubric import RubricSpec

    try:
        spec = RubricSpec((rule.config or {}).get("rubric"))
    except JudgeError:
        return {}
    return {"rubric": len(spec.system_message()) // CHARS_PER_TOKEN}


def rule_projection(*, rule: EvalRule, now=None) -> Projection:
    """A rule's (saved or not) projected monthly judge cost from the project's last 7 days."""
    from evals.connections import rule_judge

    model = rule_judge(rule).model
    return project_cost(
        traffic=rule_traffic(rule=rule, now=now),
        judges=_judges(rule),
        sample_rate=rule.sample_rate,
        price=price_for(model, rule.project.price_overrides or None) if model else None,
        past=rule_past_judgements(rule=rule),
        prompt_tokens=_prompt_tokens(rule),
    )
