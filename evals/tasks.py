from celery import shared_task

from evals import services


@shared_task(name="evals.evaluate_trace", soft_time_limit=120, time_limit=180, max_retries=3, autoretry_for=(Exception,),
             retry_backoff=True)  # fmt: skip
def evaluate_trace(trace_pk: int) -> int:
    """Rules inline, then one run_judge task per sampled judge evaluation. Idempotent."""
    pending = services.trace_evaluate(trace_pk=trace_pk)
    for score_pk in pending:
        run_judge.delay(score_pk)
    return len(pending)


@shared_task(name="evals.run_judge", bind=True, max_retries=services.MAX_JUDGE_ATTEMPTS, soft_time_limit=300,
             time_limit=360)  # fmt: skip
def run_judge(self, score_pk: int) -> None:
    """One judge evaluation; retried with backoff (honouring Retry-After) until it succeeds or fails for good."""
    try:
        services.judge_score_run(score_pk=score_pk)
    except services.JudgeRetry as retry:
        raise self.retry(countdown=retry.countdown) from None


@shared_task(name="evals.requeue_stale", soft_time_limit=60, time_limit=90)
def requeue_stale() -> int:
    """Beat: judge scores pending for too long are enqueued again."""
    return services.judge_requeue_stale()
