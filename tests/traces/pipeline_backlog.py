"""Helpers for the pipeline-state tests: completed, unprocessed traces of a chosen age."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.base import make_trace
from traces.models import Trace


def completed_traces(project, n: int, *, age_seconds: float, **fields) -> list[int]:
    """n traces completed age_seconds ago, no stage done yet (plus any Trace fields to set)."""
    pks = []
    for _ in range(n):
        trace_id, _spans = make_trace(project, n_llm=0)
        pks.append(Trace.objects.get(project=project, trace_id=trace_id).pk)
    Trace.objects.filter(pk__in=pks).update(
        **{"completed_at": timezone.now() - timedelta(seconds=age_seconds), **fields}
    )
    return pks
