"""What the detectors tell retention (traces.extensions.retention_keep_hooks): a trace with a finding is flagged,
so its content is kept to the flagged tier (90 days by default)."""

from insights.models import Finding


def traces_flagged(project, trace_pks: list[int]) -> set[int]:
    return set(Finding.objects.filter(trace_id__in=trace_pks).values_list("trace_id", flat=True).distinct())
