from celery import shared_task

from signals import services


@shared_task(name="signals.abandonment_sweep", soft_time_limit=50, time_limit=58, max_retries=0)
def abandonment_sweep() -> int:
    """Beat: sessions quiet past their project's quiet period after an answer, no task completed: abandoned."""
    return services.abandonment_sweep()
