"""JSON API for evaluation: online rules, feedback, the inline guard, dead letters."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status

from evals import connections, judging, modes, services
from evals.models import EvalRule, ModeChange, Score
from evals.schemas import (
    EvalRuleIn,
    EvalRuleOut,
    EvalRulePatch,
    FeedbackIn,
    FeedbackOut,
    GuardIn,
    GuardOut,
    JudgeConnectionOut,
    ModeChangeOut,
    ModeIn,
    ScoreOut,
)
from peekr_web.errors import NotFound
from peekr_web.schemas import Error, Id
from traces import selectors as trace_selectors
from traces.access import Action, api_requires, api_user
from traces.audit import audit_request

router = Router(tags=["evaluation"])


def rule_out(rule: EvalRule) -> dict:
    return {
        **{f: getattr(rule, f) for f in EvalRuleOut.model_fields if hasattr(rule, f) and f != "judge_missing"},
        "id": rule.pk,
        "judge_missing": services.rule_judge_missing(rule),
        "judge_base_url": rule.judge_connection.base_url if rule.judge_connection_id else "",
        "modes": {e: rule.mode_of(e) for e in rule.evaluators},
    }


@router.get("/eval-rules", response=list[EvalRuleOut], summary="List evaluation rules")
@api_requires(Action.VIEW_TRACES)
def list_rules(request):
    """The project's online evaluation rules, the built-in one first."""
    return [rule_out(r) for r in services.rules_for_project(project=request.project)]


@router.get("/judge-connections", response=list[JudgeConnectionOut], summary="List the project's judge connections")
@api_requires(Action.VIEW_TRACES)
def list_judge_connections(request):
    """The project's own judge endpoints, for a rule's `judge_connection_id`. Project owners and admins register
    them in the UI (Evaluations → Judge connections); their keys are never shown again."""
    return connections.judge_connections(project=request.project)


@router.post("/eval-rules", response={201: EvalRuleOut, 400: Error}, summary="Create an evaluation rule")
@api_requires(Action.MANAGE_RULES)
def create_rule(request, payload: EvalRuleIn):
    """Refused with a reason for unknown evaluators or triggers, or a judge model judging its own output. A new rule
    starts in shadow unless `mode` says otherwise; a judge evaluator made blocking before its calibration allows
    it answers 409 with the reason."""
    rule = services.eval_rule_create(project=request.project, actor="API key", **payload.dict())
    audit_request(request, project=request.project, action="rule.create", target=rule.name)
    return Status(201, rule_out(rule))


@router.get("/eval-rules/{rule_id}", response={200: EvalRuleOut, 404: Error}, summary="Get an evaluation rule")
@api_requires(Action.VIEW_TRACES)
def get_rule(request, rule_id: Id):
    return rule_out(get_object_or_404(EvalRule, pk=rule_id, project=request.project))


@router.patch("/eval-rules/{rule_id}", response={200: EvalRuleOut, 400: Error, 404: Error}, summary="Update a rule")
@api_requires(Action.MANAGE_RULES)
def update_rule(request, rule_id: Id, payload: EvalRulePatch):
    """Change any field; `{"status": "paused"}` pauses the rule, `{"status": "active"}` resumes it."""
    rule = get_object_or_404(EvalRule, pk=rule_id, project=request.project)
    rule = services.eval_rule_update(rule=rule, **payload.dict(exclude_unset=True))
    audit_request(request, project=request.project, action="rule.update", target=rule.name)
    return rule_out(rule)


@router.post(
    "/eval-rules/{rule_id}/mode",
    response={200: EvalRuleOut, 400: Error, 404: Error, 409: Error},
    summary="Change a rule's mode, or one evaluator's",
)
@api_requires(Action.MANAGE_RULES)
def set_mode(request, rule_id: Id, payload: ModeIn):
    """shadow, advisory or blocking, for the whole rule or one `evaluator` of it. A judge evaluator becomes
    blocking only when its calibration allows it (>= 50 human-labelled items at >= 85 % agreement): otherwise
    409 with the reason. Rule evaluators may block at once. Every change is recorded (GET .../mode-changes)."""
    rule = get_object_or_404(EvalRule, pk=rule_id, project=request.project)
    user = api_user(request) or (_member(request, payload.by) if payload.by else None)  # a token acts as its user
    modes.rule_mode_set(
        rule=rule, mode=payload.mode, evaluator=payload.evaluator, changed_by=user, actor="" if user else "API key"
    )
    rule.refresh_from_db()
    audit_request(request, project=request.project, action="rule.mode", target=rule.name,
                  details={"mode": payload.mode, "evaluator": payload.evaluator})  # fmt: skip
    return rule_out(rule)


@router.get(
    "/eval-rules/{rule_id}/mode-changes",
    response={200: list[ModeChangeOut], 404: Error},
    summary="A rule's mode changes",
)
@api_requires(Action.VIEW_TRACES)
def list_mode_changes(request, rule_id: Id, limit: int = Query(100, ge=1, le=1000)):
    """Newest first: who changed which mode, when, and the evaluator's calibration at that moment."""
    rule = get_object_or_404(EvalRule, pk=rule_id, project=request.project)
    return [mode_change_out(c) for c in modes.mode_changes(rule=rule, limit=limit)]


def mode_change_out(change: ModeChange) -> dict:
    fields = ("rule_name", "evaluator", "from_mode", "to_mode", "calibration_n", "calibration_agreement", "created_at")
    return {"id": change.pk, "rule_id": change.rule_id, "by": change.actor, **{f: getattr(change, f) for f in fields}}


def _member(request, username: str):
    from traces.models import Membership, Role

    editors = (Role.OWNER, Role.ADMIN, Role.ENGINEER)  # who may change rules in the UI too
    found = Membership.objects.filter(project=request.project, user__username=username, role__in=editors).first()
    if found is None:
        raise NotFound(f"no member {username!r} in this project who may change rules")
    return found.user


@router.delete("/eval-rules/{rule_id}", response={204: None, 404: Error}, summary="Delete a rule")
@api_requires(Action.MANAGE_RULES)
def delete_rule(request, rule_id: Id):
    """Its scores stay (their rule becomes empty)."""
    rule = get_object_or_404(EvalRule, pk=rule_id, project=request.project)
    rule.delete()
    audit_request(request, project=request.project, action="rule.delete", target=rule.name)
    return Status(204, None)


@router.post(
    "/feedback", response={201: FeedbackOut, 400: Error, 404: Error}, summary="Record user feedback on a trace"
)
@api_requires(Action.INGEST)
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
@api_requires(Action.INGEST)
def guard(request, payload: GuardIn):
    """Runs the project's rule evaluators (JSON, schema, PII, allowed tools, citations...) synchronously and
    answers pass or block with the reasons. No LLM judge runs here: it stays fast."""
    return services.guard_check(project=request.project, **payload.dict())


@router.get("/dead-letters", response=list[ScoreOut], summary="Judge evaluations that failed for good")
@api_requires(Action.VIEW_TRACES)
def list_dead_letters(request, limit: int = Query(100, ge=1, le=1000)):
    return [score_out(s) for s in judging.dead_letters(project=request.project).select_related("trace", "span")[:limit]]


@router.post(
    "/dead-letters/{score_id}/retry", response={202: ScoreOut, 404: Error}, summary="Retry a failed evaluation"
)
@api_requires(Action.MANAGE_RULES)
def retry_dead_letter(request, score_id: Id):
    score = get_object_or_404(Score, pk=score_id, project=request.project, status=Score.Status.ERROR)
    judging.score_retry(score=score)
    score.refresh_from_db()
    return Status(202, score_out(score))


def score_out(score: Score) -> dict:
    return {
        "id": score.pk,
        "trace_id": score.trace.trace_id,
        "span_id": score.span.span_id if score.span else None,
        **{
            f: getattr(score, f)
            for f in ("evaluator", "status", "value", "passed", "error", "attempts", "mode", "updated_at")
        },
    }
