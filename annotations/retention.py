"""What review tells retention (traces.extensions.retention_keep_hooks): a trace in a review queue is flagged, so
its content is kept to the flagged tier (90 days by default). Golden-set cases are copies: they stay until removed."""

from annotations.models import QueueItem


def traces_flagged(project, trace_pks: list[int]) -> set[int]:
    return set(QueueItem.objects.filter(trace_id__in=trace_pks).values_list("trace_id", flat=True).distinct())
