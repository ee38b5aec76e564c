"""Running the LLM judges: one pending judge Score at a time (a Celery task each, evals.tasks.run_judge), its
retries, fail-open errors and dead letters, the daily cost cap's reservation and the cost ledger, the judge's
own trace, and ?evaluate=sync's bounded inline judging.

The pending judge scores themselves are created by the evaluation pipeline (evals.services.traces_evaluate_batch);
this module builds on evals.services, never the reverse.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evals.budget import budget_release, budget_reserve, estimate_cost, over_cap_reason
from evals.connections import rule_judge
from evals.evaluators.types import EvalResult
from evals.models import EvalRule, JudgeCacheEntry, JudgeCall, Mode, Score
from evals.services import build_targets, eval_rule_pause, rule_config, span_write_back, trace_evaluate
from traces.models import Project, Span

MAX_JUDGE_ATTEMPTS = 4
JUDGE_SCORED_HOOKS: list = []  # callables(trace_pk) run after a judge score is stored (review routing)


class JudgeRetry(Exception):
    def __init__(self, countdown: float, reason: str):
        super().__init__(reason)
        self.countdown = countdown


def judge_score_run(*, score_pk: int, final_attempt: bool = False, deadline_s: float | None = None) -> None:
    """Run one pending judge score. Raises JudgeRetry when the caller should try again later.

    Fail open: after MAX_JUDGE_ATTEMPTS (or with final_attempt) a retryable failure is recorded as an error
    with its reason, never as a 0.0. A 401/403 pauses the rule. A malformed reply is an error with the raw
    reply kept, not retried. The estimate is reserved against the daily cap before the call (evals.budget).
    With ``deadline_s`` (sync mode) the judgement gets at most that long; past it the score stays pending and
    goes to the worker, and what the cut-off call reserved stays in the ledger as its estimate.
    """
    from evals.judges import JUDGES

    score = (
        Score.objects.select_related("rule__judge_connection", "span", "trace", "project").filter(pk=score_pk).first()
    )
    if score is None or score.status != Score.Status.PENDING:  # done, skipped or failed for good: nothing to do
        return
    rule, span = score.rule, score.span
    if rule is None or span is None:
        return
    if rule.status != EvalRule.Status.ACTIVE:
        _score_finish(score, EvalResult(status=Score.Status.SKIPPED, error=f"rule paused: {rule.paused_reason}"))
        return
    score.mode = rule.mode_of(score.evaluator)  # the mode when it is scored, saved with its result
    judge = rule_judge(rule)
    if judge.unreadable:
        _score_finish(score, EvalResult(status=Score.Status.ERROR, error=judge.unreadable))
        return
    evaluator = JUDGES[score.evaluator]
    config = rule_config(rule)
    spans = [s for s in Span.objects.filter(trace=score.trace) if not s.is_internal]
    span_targets, _ = build_targets(spans)
    target = next(t for t in span_targets if t.span_id == span.span_id)

    cache_key = evaluator.cache_key(target, config, judge.model)
    cached = JudgeCacheEntry.objects.filter(key=cache_key).first()
    if cached is not None:
        result = EvalResult(**cached.result)
        result.cost = 0.0  # judged before: nothing spent this time
        result.details = {**result.details, "cached": True}
        _score_finish(score, result)
        return
    prices = score.project.price_overrides or None  # the project's prices price its judge calls too
    estimate = estimate_cost(evaluator=score.evaluator, target=target, model=judge.model, prices=prices)
    reservation = budget_reserve(rule=rule, score=score, estimate=estimate, model=judge.model)
    if reservation is None:
        _score_finish(score, EvalResult(status=Score.Status.SKIPPED, error=over_cap_reason(rule)))
        return
    _judge_call(score, rule, judge, target, config, reservation, final_attempt, deadline_s, cache_key)


def _judge_call(score, rule, judge, target, config, reservation, final_attempt, deadline_s, cache_key) -> None:
    from evals.judge_client import JudgeConfig, JudgeError
    from evals.judges import judge_sync

    attempt = score.attempts = score.attempts + 1
    Score.objects.filter(pk=score.pk).update(attempts=attempt)
    started = time.monotonic()
    judge_config = JudgeConfig(
        base_url=judge.base_url,
        api_key=judge.api_key or "none",
        model=judge.model,
        guarded=judge.guarded,
        timeout_s=min(30.0, deadline_s) if deadline_s else 30.0,
        price_overrides=score.project.price_overrides or None,
    )
    try:
        result = judge_sync(score.evaluator, target, config, judge_config, deadline_s=deadline_s)
    except JudgeError as exc:  # failed attempts cost money too: they go to the ledger
        _ledger_record(
            score=score,
            rule=rule,
            result=EvalResult(details={"calls": _calls(exc.calls)}),
            model=judge.model,
            reservation=reservation,
            made_calls=bool(exc.calls),
        )
        return _judge_failed(exc, score=score, rule=rule, attempt=attempt, final_attempt=final_attempt, judge=judge)
    except TimeoutError:  # the sync deadline: the worker takes it from here
        from evals.tasks import run_judge

        Score.objects.filter(pk=score.pk).update(error="sync evaluation deadline passed; left to the worker")
        transaction.on_commit(lambda: run_judge.delay(score.pk))
        return
    result.latency_ms = result.latency_ms or (time.monotonic() - started) * 1000
    _ledger_record(score=score, rule=rule, result=result, model=judge.model, reservation=reservation)
    if result.status == Score.Status.DONE:
        JudgeCacheEntry.objects.get_or_create(key=cache_key, defaults={"result": _cacheable(result)})
    _score_finish(score, result)


def _calls(calls) -> list[dict]:
    return [c if isinstance(c, dict) else asdict(c) for c in calls]


def _judge_failed(exc, *, score: Score, rule: EvalRule, attempt: int, final_attempt: bool, judge) -> None:
    from evals.judge_client import JudgeAuthError, JudgeMalformed, JudgeRetryable

    if isinstance(exc, JudgeRetryable):
        if final_attempt or attempt >= MAX_JUDGE_ATTEMPTS:
            _score_finish(
                score,
                EvalResult(status=Score.Status.ERROR, error=f"judge unavailable after {attempt} attempt(s): {exc}"),
            )
            return
        backoff = exc.retry_after if exc.retry_after is not None else min(60.0, 2.0**attempt)
        Score.objects.filter(pk=score.pk).update(error=f"attempt {attempt} failed, retrying: {exc}")
        raise JudgeRetry(backoff, str(exc)) from exc
    if isinstance(exc, JudgeAuthError):
        reason = f"judge endpoint refused the key ({exc}); rule paused: {judge.fix_key_hint} and resume it"
        eval_rule_pause(rule=rule, reason=reason)
        _score_finish(score, EvalResult(status=Score.Status.ERROR, error=reason))
    elif isinstance(exc, JudgeMalformed):
        _score_finish(score, EvalResult(status=Score.Status.ERROR, error=f"malformed judge reply: {exc}", raw=exc.raw))
    else:
        _score_finish(score, EvalResult(status=Score.Status.ERROR, error=str(exc)))


def _cacheable(result: EvalResult) -> dict:
    data = asdict(result)
    data["details"] = {k: v for k, v in data["details"].items() if k != "calls"}
    return data


def _score_finish(score: Score, result: EvalResult) -> None:
    score.status = result.status
    score.value = result.value if result.status == Score.Status.DONE else None
    score.passed = result.passed if result.status == Score.Status.DONE else None
    score.label = (result.label or "")[:200]
    score.explanation = result.explanation
    score.details = result.details
    score.error = result.error
    score.raw_reply = result.raw
    score.cost = result.cost
    score.latency_ms = result.latency_ms
    score.save()
    if score.span_id:
        span_write_back(span_pks=[score.span_id])
    if score.source == Score.Source.JUDGE and result.status == Score.Status.DONE and score.mode != Mode.SHADOW:
        for hook in JUDGE_SCORED_HOOKS:
            transaction.on_commit(lambda hook=hook: hook(score.trace_id))


def _ledger_record(
    *, score: Score, rule: EvalRule, result: EvalResult, model: str, reservation=None, made_calls: bool = True
) -> None:
    """Replace the reservation with the judge's calls in the cost ledger, and trace them as Peekr's own (never
    evaluated). ``made_calls`` False: the judgement failed before any call, nothing was spent."""
    if not made_calls:
        budget_release(reservation)
        return
    calls = (result.details or {}).get("calls") or [
        {"model": model, "input_tokens": 0, "output_tokens": 0, "cost": result.cost, "latency_ms": result.latency_ms}
    ]
    today = timezone.now().date()
    with transaction.atomic():
        budget_release(reservation)
        _ledger_insert(score=score, rule=rule, calls=calls, model=model, today=today)
    _trace_judge_calls(score=score, calls=calls, model=model)


def _ledger_insert(*, score: Score, rule: EvalRule, calls: list[dict], model: str, today) -> None:
    JudgeCall.objects.bulk_create(
        [
            JudgeCall(
                project_id=score.project_id,
                rule=rule,
                score=score,
                model=c.get("model") or model,
                input_tokens=c.get("input_tokens") or 0,
                output_tokens=c.get("output_tokens") or 0,
                cost=c.get("cost") or 0.0,
                latency_ms=c.get("latency_ms") or 0.0,
                day=today,
            )
            for c in calls
        ]
    )


def _trace_judge_calls(*, score: Score, calls: list[dict], model: str) -> None:
    import secrets

    from traces.normalize.types import RawSpan
    from traces.services import spans_ingest

    trace_id = secrets.token_hex(16)
    now_ns = time.time_ns()
    total_ms = sum(c.get("latency_ms") or 0.0 for c in calls)
    root_id = secrets.token_hex(8)
    start = now_ns - int(total_ms * 1e6)
    raws = [
        RawSpan(
            trace_id=trace_id,
            span_id=root_id,
            name=f"peekr.judge {score.evaluator}",
            start_ns=start,
            end_ns=now_ns,
            kind=1,
            attributes={
                "peekr.internal": True,
                "peekr.score_id": score.pk,
                "peekr.evaluator": score.evaluator,
                "peekr.judged_span_id": score.span.span_id if score.span else "",
            },
            resource={"service.name": "peekr-judge"},
        )
    ]
    cursor = start
    for c in calls:
        dur = int((c.get("latency_ms") or 0.0) * 1e6)
        raws.append(
            RawSpan(
                trace_id=trace_id,
                span_id=secrets.token_hex(8),
                parent_span_id=root_id,
                name=f"chat {c.get('model') or model}",
                start_ns=cursor,
                end_ns=cursor + dur,
                kind=3,
                attributes={
                    "peekr.internal": True,
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": c.get("model") or model,
                    "gen_ai.usage.input_tokens": c.get("input_tokens") or 0,
                    "gen_ai.usage.output_tokens": c.get("output_tokens") or 0,
                },
                resource={"service.name": "peekr-judge"},
            )
        )
        cursor += dur
    spans_ingest(project=score.project, raws=raws)


def judge_requeue_stale(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Re-enqueue judge scores left pending: a message lost with a killed worker (the filesystem broker has no
    redelivery) or a broker outage must not lose a score. A duplicate delivery is harmless: one score."""
    from evals.tasks import run_judge

    stale = list(
        Score.objects.filter(
            status=Score.Status.PENDING, source=Score.Source.JUDGE, updated_at__lt=timezone.now() - older_than
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in stale:
        Score.objects.filter(pk=pk).update(updated_at=timezone.now())
        run_judge.delay(pk)
    return len(stale)


def dead_letters(*, project: Project):
    """Judge evaluations that failed for good: listed, and retryable by hand."""
    return Score.objects.filter(project=project, source=Score.Source.JUDGE, status=Score.Status.ERROR).order_by(
        "-updated_at"
    )


def score_retry(*, score: Score) -> None:
    Score.objects.filter(pk=score.pk).update(status=Score.Status.PENDING, attempts=0, error="")
    from evals.tasks import run_judge

    transaction.on_commit(lambda: run_judge.delay(score.pk))


# ---------------------------------------------------------------- sync mode


_SYNC_SLOTS = threading.BoundedSemaphore(max(1, settings.PEEKR_SYNC_EVAL_CONCURRENCY))


def _judges_inline(pending: list[int], deadline: float | None) -> None:
    """Sync mode: the judges run here, each within what is left of the request's deadline. A judgement that
    runs out of time, or fails in a way worth retrying, is handed to the worker (still pending), never lost."""
    from evals.tasks import run_judge

    for score_pk in pending:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0.05:
            transaction.on_commit(lambda pk=score_pk: run_judge.delay(pk))
            continue
        try:
            judge_score_run(score_pk=score_pk, final_attempt=deadline is None, deadline_s=left)
        except JudgeRetry as retry:
            transaction.on_commit(lambda pk=score_pk, c=retry.countdown: run_judge.apply_async((pk,), countdown=c))


def trace_evaluate_sync(*, trace_pks: list[int]) -> bool:
    """?evaluate=sync: evaluate these traces now, judges included, within PEEKR_SYNC_EVAL_SECONDS in all.

    At most PEEKR_SYNC_EVAL_CONCURRENCY requests per process judge at once, so a slow judge cannot hold every
    web thread; past that (returns False) the traces are evaluated by the worker as usual once they settle.
    """
    if not _SYNC_SLOTS.acquire(blocking=False):
        return False
    try:
        deadline = time.monotonic() + settings.PEEKR_SYNC_EVAL_SECONDS
        for pk in trace_pks:
            _judges_inline(trace_evaluate(trace_pk=pk), deadline)
    finally:
        _SYNC_SLOTS.release()
    return True
