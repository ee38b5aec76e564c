"""What evaluation tells retention (traces.extensions.retention_keep_hooks): a trace with a failing score is
flagged, so its content is kept to the flagged tier (90 days by default)."""

from evals.models import Score


def traces_flagged(project, trace_pks: list[int]) -> set[int]:
    failing = Score.objects.filter(trace_id__in=trace_pks, status=Score.Status.DONE, passed=False)
    return set(failing.values_list("trace_id", flat=True).distinct())
