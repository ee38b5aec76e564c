from celery import shared_task

from traces import services


@shared_task(name="traces.trace_settle", bind=True, max_retries=None, soft_time_limit=60, time_limit=90)
def trace_settle(self, trace_pks: list[int]) -> None:
    """Complete each trace once it is quiet; ask again later for those still receiving spans."""
    waits = {pk: wait for pk in trace_pks if (wait := services.trace_settle(trace_pk=pk)) is not None}
    if waits:
        self.apply_async(args=[sorted(waits)], countdown=max(0.5, min(waits.values())))


@shared_task(name="traces.settle_sweep", soft_time_limit=120, time_limit=180)
def settle_sweep() -> int:
    """Safety net: settle traces whose settle message was lost (broker down at ingest, worker killed)."""
    due = services.traces_due_for_settling()
    for pk in due:
        services.trace_settle(trace_pk=pk)
    return len(due)
