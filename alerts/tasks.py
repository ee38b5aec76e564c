from celery import shared_task
from django.db import DatabaseError

from alerts import delivery, services


@shared_task(name="alerts.monitors_evaluate", soft_time_limit=240, time_limit=280, max_retries=0)
def monitors_evaluate() -> dict[str, int]:
    """Beat: every enabled monitor against its baseline. Never waits on a channel: deliveries are tasks."""
    return services.monitors_evaluate()


@shared_task(name="alerts.deliver", bind=True, soft_time_limit=60, time_limit=90, max_retries=30,
             autoretry_for=(DatabaseError,), retry_backoff=True)  # fmt: skip
def deliver(self, delivery_pk: int) -> None:
    """One attempt at a delivery; retried with exponential backoff (its own count, on the Delivery row)."""
    retry_in = delivery.delivery_attempt(delivery_pk=delivery_pk)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)
