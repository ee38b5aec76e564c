from celery import shared_task

from annotations import services


@shared_task(name="annotations.route_trace", soft_time_limit=60, time_limit=90, max_retries=3,
             autoretry_for=(Exception,), retry_backoff=True)  # fmt: skip
def route_trace(trace_pk: int) -> int:
    """Put a completed trace into the queues whose routing rules fire. Idempotent (one item per queue+trace)."""
    return len(services.trace_route(trace_pk=trace_pk))
