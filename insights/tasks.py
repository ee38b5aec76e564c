from celery import shared_task
from django.db import DatabaseError

from insights import services


@shared_task(name="insights.trace_detect", soft_time_limit=60, time_limit=90, max_retries=3,
             autoretry_for=(DatabaseError,), retry_backoff=True)  # fmt: skip
def trace_detect(trace_pk: int) -> int:
    """Every detector on one completed trace; findings stored, insights updated. Idempotent.

    Retried only on database errors (a deadlock between two traces creating the same insights, a lost
    connection): a detector's own bug is logged by detect_all and costs that detector's findings only.
    """
    return services.trace_detect(trace_pk=trace_pk)
