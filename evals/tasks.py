from celery import shared_task

from evals import judging, services


@shared_task(name="evals.evaluate_trace", soft_time_limit=120, time_limit=180, max_retries=3, autoretry_for=(Exception,),
             retry_backoff=True)  # fmt: skip
def evaluate_trace(trace_pk: int) -> int:
    """Rules inline, then one run_judge task per sampled judge evaluation. Idempotent."""
    pending = services.trace_evaluate(trace_pk=trace_pk)
    for score_pk in pending:
        run_judge.delay(score_pk)
    return len(pending)


@shared_task(name="evals.run_judge", bind=True, max_retries=judging.MAX_JUDGE_ATTEMPTS, soft_time_limit=300,
             time_limit=360)  # fmt: skip
def run_judge(self, score_pk: int) -> None:
    """One judge evaluation; retried with backoff (honouring Retry-After) until it succeeds or fails for good."""
    try:
        judging.judge_score_run(score_pk=score_pk)
    except judging.JudgeRetry as retry:
        raise self.retry(countdown=retry.countdown) from None


@shared_task(name="evals.requeue_stale", soft_time_limit=60, time_limit=90)
def requeue_stale() -> int:
    """Beat: judge scores pending for too long are enqueued again."""
    return judging.judge_requeue_stale()


@shared_task(name="evals.backfill_run", bind=True, soft_time_limit=240, time_limit=300, max_retries=3)
def backfill_run(self, backfill_pk: int) -> None:
    """One batch of a backfill, then the next batch as a task of its own (so a cancel stops it in between)."""
    from django.db import DatabaseError

    from evals import backfill

    try:
        more = backfill.backfill_step(backfill_pk=backfill_pk)
    except DatabaseError as exc:
        raise self.retry(countdown=2**self.request.retries, exc=exc) from None
    except Exception as exc:
        backfill.backfill_fail(backfill_pk=backfill_pk, error=f"{type(exc).__name__}: {exc}")
        raise
    if more:
        backfill_run.delay(backfill_pk)
