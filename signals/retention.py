"""What users' signals tell retention (traces.extensions.retention_keep_hooks): a trace users complained about
(any signal but praise: a thumbs up, a good rating, a completed task) is flagged, so its content is kept to the
flagged tier (90 days by default)."""

from django.db.models import Q

from signals.models import Signal, SignalKind

PRAISE = Q(kind=SignalKind.THUMBS_UP) | Q(kind__in=[SignalKind.RATING, SignalKind.TASK_COMPLETED], value__gte=0.5)


def traces_flagged(project, trace_pks: list[int]) -> set[int]:
    complaints = Signal.objects.filter(trace_id__in=trace_pks).exclude(PRAISE)
    return set(complaints.values_list("trace_id", flat=True).distinct())
