from celery import shared_task

from traces import pipeline, services


@shared_task(name="traces.trace_settle", bind=True, max_retries=None, soft_time_limit=240, time_limit=300)
def trace_settle(self, trace_pks: list[int]) -> None:
    """Complete the quiet traces of a batch and run the pipeline on them here (no second message to wait behind
    other work); ask again later for the others. A pipeline cut short by a killed worker is the sweep's."""
    settled = services.traces_settle(trace_pks=trace_pks)
    if settled.waits:
        self.apply_async(args=[sorted(settled.waits)], countdown=max(0.5, min(settled.waits.values())))
    if settled.completed:
        pipeline.pipeline_run(trace_pks=settled.completed)


@shared_task(name="traces.settle_sweep", soft_time_limit=240, time_limit=300)
def settle_sweep() -> int:
    """Safety net: settle traces whose settle message was lost (broker down at ingest, worker killed) or is still
    queued behind other work, and run the pipeline on them here, batch by batch, as trace_settle does.

    Not a pipeline_run message per batch: those went to the back of the queue, behind the settle messages of
    every trace received since, while these traces already counted as complete, so a busy worker left them
    waiting tens of seconds (the pipeline bench's lag p95). A sweep cut short leaves at most one batch completed
    and unprocessed: the pipeline sweep's."""
    due = services.traces_due_for_settling()
    for batch in pipeline.batches(due):
        completed = services.traces_settle(trace_pks=batch).completed
        if completed:
            pipeline.pipeline_run(trace_pks=completed)
    return len(due)


@shared_task(name="traces.pipeline_run", soft_time_limit=240, time_limit=300)
def pipeline_run(trace_pks: list[int]) -> dict:
    """Every registered stage (rules, detectors, routing) over a batch of completed traces. Idempotent."""
    return pipeline.pipeline_run(trace_pks=trace_pks)


@shared_task(name="traces.pipeline_sweep", soft_time_limit=120, time_limit=180)
def pipeline_sweep() -> int:
    """Safety net: completed traces a stage has not processed in time are run again, in batches."""
    stale = pipeline.traces_to_sweep()
    for batch in pipeline.batches(stale):
        pipeline_run.delay(batch)
    return len(stale)


@shared_task(name="traces.pipeline_sample", soft_time_limit=50, time_limit=60)
def pipeline_sample() -> int:
    """Once a minute: every stage's backlog, for the Evaluations page's lag chart (a week kept)."""
    from traces.pipeline_state import pipeline_sample_record

    return pipeline_sample_record()


@shared_task(name="traces.retention", soft_time_limit=6 * 3600, time_limit=6 * 3600 + 600)
def retention() -> int | None:
    """Daily (beat): span partitions ahead, then every project's retention (traces.retention_run). Skipped while
    another run is at work (a run killed mid-way is resumed by the next: every batch commits on its own)."""
    from datetime import timedelta

    from django.utils import timezone

    from traces.models import RetentionRun
    from traces.retention_run import retention_run

    busy = RetentionRun.objects.filter(
        status="running", dry_run=False, started_at__gte=timezone.now() - timedelta(hours=6)
    )
    if busy.exists():
        return None
    return retention_run().pk
