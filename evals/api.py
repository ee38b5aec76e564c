"""JSON API for evaluation: online rules, feedback, the inline guard, dead letters."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from evals import connections, services
from evals.models import EvalRule, Score
from evals.schemas import (
    EvalRuleIn,
    EvalRuleOut,
    EvalRulePatch,
    FeedbackIn,
    FeedbackOut,
    GuardIn,
    GuardOut,
    JudgeConnectionOut,
    ScoreOut,
)
from peekr_web.errors import NotFound
from peekr_web.schemas import Error, Id
from traces import selectors as trace_selectors

router = Router(tags=["evaluation"])


def rule_out(rule: EvalRule) -> dict:
    return {
        **{f: getattr(rule, f) for f in EvalRuleOut.model_fields if hasattr(rule, f) and f != "judge_missing"},
        "id": rule.pk,
        "judge_missing": services.rule_judge_missing(rule),
        "judge_base_url": rule.judge_connection.base_url if rule.judge_connection_id else "",
    }


@router.get("/eval-rules", response=list[EvalRuleOut], summary="List evaluation rules")
def list_rules(request):
    """The project's online evaluation rules, the built-in one first."""
    return [rule_out(r) for r in services.rules_for_project(project=request.project)]


@router.get("/judge-connections", response=list[JudgeConnectionOut], summary="List the project's judge connections")
def list_judge_connections(request):
    """The project's own judge endpoints, for a rule's `judge_connection_id`. Project owners and admins register
    them in the UI (Evaluations → Judge connections); their keys are never shown again."""
    return connections.judge_connections(project=request.project)


@router.post("/eval-rules", response={201: EvalRuleOut, 400: Error}, summary="Create an evaluation rule")
def create_rule(request, payload: EvalRuleIn):
    """Refused with a reason for unknown evaluators or triggers, or a judge model judging its own output."""
    rule = services.eval_rule_create(project=request.project, **payload.dict())
    return Status(201, rule_out(rule))


@router.get("/eval-rules/{rule_id}", response={200: EvalRuleOut, 404: Error}, summary="Get an evaluation rule")
def get_rule(request, rule_id: Id):
    return rule_out(get_object_or_404(EvalRule, pk=rule_id, project=request.project))


@router.patch("/eval-rules/{rule_id}", response={200: EvalRuleOut, 400: Error, 404: Error}, summary="Update a rule")
def update_rule(request, rule_id: Id, payload: EvalRulePatch):
    """Change any field; `{"status": "paused"}` pauses the rule, `{"status": "active"}` resumes it."""
    rule = get_object_or_404(EvalRule, pk=rule_id, project=request.project)
    return rule_out(services.eval_rule_update(rule=rule, **payload.dict(exclude_unset=True)))


@router.delete("/eval-rules/{rule_id}", response={204: None, 404: Error}, summary="Delete a rule")
def delete_rule(request, rule_id: Id):
    """Its scores stay (their rule becomes empty)."""
    get_object_or_404(EvalRule, pk=rule_id, project=request.project).delete()
    return Status(204, None)


@router.post(
    "/feedback", response={201: FeedbackOut, 400: Error, 404: Error}, summary="Record user feedback on a trace"
)
def post_feedback(request, payload: FeedbackIn):
    """Thumbs up or down, a comment, an edit of the answer (`edited_output`: its normalised edit distance to the
    model's answer is stored), a copy, an escalation, a rating (`value`: 1-5 stars, stored 0-1), a completed
    task. Thumbs-down re-evaluates. 400 for a rating without a value in 1-5, or an edit without edited_output."""
    trace = trace_selectors.trace_get(project=request.project, trace_id=payload.trace_id)
    if trace is None:
        raise NotFound(f"trace {payload.trace_id} not found")
    fb = services.feedback_record(
        trace=trace,
        kind=payload.kind,
        comment=payload.comment,
        edited_output=payload.edited_output,
        user_id=payload.user_id,
        value=payload.value,
    )
    out = {"id": fb.pk, "trace_id": trace.trace_id, "kind": fb.kind, "value": fb.value, "created_at": fb.created_at}
    return Status(201, out)


@router.post("/guard", response=GuardOut, summary="Check a candidate output before a user sees it")
def guard(request, payload: GuardIn):
    """Runs the project's rule evaluators (JSON, schema, PII, allowed tools, citations...) synchronously and
    answers pass or block with the reasons. No LLM judge runs here: it stays fast."""
    return services.guard_check(project=request.project, **payload.dict())


@router.get("/dead-letters", response=list[ScoreOut], summary="Judge evaluations that failed for good")
def list_dead_letters(request, limit: int = Query(100, ge=1, le=1000)):
    return [
        score_out(s) for s in services.dead_letters(project=request.project).select_related("trace", "span")[:limit]
    ]


@router.post(
    "/dead-letters/{score_id}/retry", response={202: ScoreOut, 404: Error}, summary="Retry a failed evaluation"
)
def retry_dead_letter(request, score_id: Id):
    score = get_object_or_404(Score, pk=score_id, project=request.project, status=Score.Status.ERROR)
    services.score_retry(score=score)
    score.refresh_from_db()
    return Status(202, score_out(score))


def score_out(score: Score) -> dict:
    return {
        "id": score.pk,
        "trace_id": score.trace.trace_id,
        "span_id": score.span.span_id if score.span else None,
        **{f: getattr(score, f) for f in ("evaluator", "status", "value", "passed", "error", "attempts", "updated_at")},
    }
