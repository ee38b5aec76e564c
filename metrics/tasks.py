from celery import shared_task
from django.db import DatabaseError

from metrics import services


@shared_task(name="metrics.rollup_pending", soft_time_limit=120, time_limit=180, max_retries=3,
             autoretry_for=(DatabaseError,), retry_backoff=True)  # fmt: skip
def rollup_pending() -> int:
    """Beat: recompute the contributions of traces re-scored, given feedback or signals since they were rolled
    up. Idempotent (a contribution replaces the previous one); a row queued again meanwhile stays queued."""
    return services.rollup_pending_drain()


@shared_task(name="metrics.rollups_purge", soft_time_limit=600, time_limit=900)
def rollups_purge() -> int:
    """Beat, daily: rollups, user costs and contributions older than 12 months go."""
    return services.rollups_purge()
