"""Reads for evaluation shared by the views, the API and sync-mode ingestion."""

from __future__ import annotations

from django.db.models import Avg, Count, Q, Sum

from evals.models import EvalRule, JudgeCall, Mode, Score


def scores_for_traces(*, trace_pks: list[int]) -> list[dict]:
    rows = Score.objects.filter(trace_id__in=trace_pks).select_related("trace", "span").order_by("trace_id", "pk")
    return [
        {**s.as_dict(), "trace_id": s.trace.trace_id, "span_id": s.span.span_id if s.span else None,
         "span_name": s.span.name if s.span else ""}  # a score is shown with the span it judged
        for s in rows
    ]  # fmt: skip


def projects_with_trigger(*, project_ids, trigger: str) -> set[int]:
    """The projects among these with an active rule that evaluates whenever ``trigger`` fires (evals.models.TRIGGERS).
    Triggers are a JSON list: filtered here, not in SQL (SQLite has no JSON containment), over a project's few rules."""
    rows = EvalRule.objects.filter(project_id__in=set(project_ids), status=EvalRule.Status.ACTIVE).values_list(
        "project_id", "triggers"
    )
    return {project_id for project_id, triggers in rows if trigger in (triggers or ())}


def evaluator_mode(rule: EvalRule, evaluator: str) -> str:
    """The mode ("shadow", "advisory" or "blocking") of an evaluator in a rule: its override, else the rule's."""
    return rule.mode_of(evaluator)


def blocking_evaluators(project) -> list[tuple[str, str, float | None]]:
    """(evaluator, kind, threshold) for every evaluator blocking in one of the project's active rules, by name.

    kind: "deterministic" (a rule evaluator, evals.evaluators) or "semantic" (a judge, evals.judges);
    threshold: a semantic evaluator's pass threshold (a value at or above it passes, the rule's config), None
    for a deterministic one. An evaluator blocking in several rules is listed once (the highest threshold).
    """
    from evals.services import JUDGE_EVALUATORS, rule_config, rules_for_project

    out: dict[str, tuple[str, str, float | None]] = {}
    # rules_for_project: the built-in rule (blocking) exists even for a project nothing has evaluated yet
    rules = [r for r in rules_for_project(project=project) if r.status == EvalRule.Status.ACTIVE]
    for rule in rules:
        for name in rule.evaluators:
            if rule.mode_of(name) != Mode.BLOCKING:
                continue
            if name in JUDGE_EVALUATORS:
                threshold = rule_config(rule).threshold
                if name in out and out[name][2] is not None:
                    threshold = max(threshold, out[name][2])
                out[name] = (name, "semantic", threshold)
            else:
                out[name] = (name, "deterministic", None)
    return [out[k] for k in sorted(out)]


def evaluator_pass_rates(*, rule: EvalRule) -> list[dict]:
    return list(
        Score.objects.filter(rule=rule, status=Score.Status.DONE)
        .values("evaluator")
        .annotate(n=Count("id"), passed=Count("id", filter=Q(passed=True)), mean=Avg("value"))
        .order_by("evaluator")
    )


# --- The Evaluations pages and the trace list's Scores column (HTML views) ---

# Feedback is stored as scores too, one evaluator name per feedback row: not an evaluation to count or filter on.
# Shadow scores are shown apart on the trace page, never counted or filtered on with the others.
_EVALUATED = ~Q(source=Score.Source.FEEDBACK) & ~Q(mode=Mode.SHADOW)


def trace_score_annotations() -> dict:
    """Per-trace score counts as correlated subqueries, to annotate a trace page with: no query of their own.

    score_total: scores that ran or will run (not skipped), score_failed: done and not passed,
    score_errors: failed to run. The list's badge is "<failed> failed / <total>".
    """
    from django.db.models import IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    def count(condition: Q) -> Coalesce:
        rows = (
            Score.objects.filter(_EVALUATED, condition, trace_id=OuterRef("pk"))
            .order_by()
            .values("trace_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))

    return {
        "score_total": count(~Q(status=Score.Status.SKIPPED)),
        "score_failed": count(Q(status=Score.Status.DONE, passed=False)),
        "score_errors": count(Q(status=Score.Status.ERROR)),
    }


def trace_pks_matching_scores(
    *,
    project,
    evaluator: str = "",
    failed: bool = False,
    below: float | None = None,
    above: float | None = None,
    rule: str = "",
):
    """Pks of the traces with one done score meeting every given condition, as a subquery (not run here).
    rule: the name of the rule that scored it (with failed: "the traces this rule failed")."""
    scores = Score.objects.filter(_EVALUATED, project=project, status=Score.Status.DONE)
    if evaluator:
        scores = scores.filter(evaluator=evaluator)
    if failed:
        scores = scores.filter(passed=False)
    if below is not None:
        scores = scores.filter(value__lt=below)
    if above is not None:
        scores = scores.filter(value__gt=above)
    if rule:
        scores = scores.filter(rule__name=rule)
    return scores.values("trace_id")


def trace_score_sort():
    """The trace's lowest done score (what "sort by score" orders on: worst first ascending), NULL if unscored."""
    from django.db.models import FloatField, Min, OuterRef, Subquery

    lowest = (
        Score.objects.filter(_EVALUATED, trace_id=OuterRef("pk"), status=Score.Status.DONE, value__isnull=False)
        .order_by()
        .values("trace_id")
        .annotate(v=Min("value"))
        .values("v")
    )
    return Subquery(lowest, output_field=FloatField())


def rule_latest_scores(*, rule: EvalRule, limit: int = 50) -> list[Score]:
    """A rule's newest scores with their trace and span ids, for its page."""
    return list(
        Score.objects.filter(rule=rule)
        .select_related("trace", "span")
        .only(
            "evaluator", "status", "value", "passed", "label", "error", "cost", "created_at", "updated_at", "mode",
            "trace__trace_id", "trace__name", "span__span_id", "span__name",
        )
        .order_by("-created_at", "-pk")[:limit]
    )  # fmt: skip


def rule_execution_stats(*, rule: EvalRule) -> dict:
    """rule_stats' figures (executions by status, pass rate, judge cost so far) for the Evaluations pages.

    Its aggregates are aliased apart from the model's fields: an aggregate named "passed" would be what a later
    filter on the field passed refers to (Django raises FieldError).
    """
    agg = Score.objects.filter(rule=rule).aggregate(
        pending=Count("id", filter=Q(status=Score.Status.PENDING)),
        done=Count("id", filter=Q(status=Score.Status.DONE)),
        error=Count("id", filter=Q(status=Score.Status.ERROR)),
        skipped=Count("id", filter=Q(status=Score.Status.SKIPPED)),
        n_passed=Count("id", filter=Q(status=Score.Status.DONE, passed=True)),
        n_judged=Count("id", filter=Q(status=Score.Status.DONE, passed__isnull=False)),
        mean=Avg("value", filter=Q(status=Score.Status.DONE)),
    )
    agg["passed"], agg["judged"] = agg.pop("n_passed"), agg.pop("n_judged")
    agg["pass_rate"] = agg["passed"] / agg["judged"] if agg["judged"] else None
    agg["cost"] = JudgeCall.objects.filter(rule=rule).aggregate(s=Sum("cost"))["s"] or 0.0
    return agg
