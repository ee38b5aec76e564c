"""GenAI metric points from OTLP metric exports: the write (metric_points_ingest) and the read the charts use
(metric_series), which turns cumulative points into per-interval figures."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from traces.models import MetricPoint, MetricTally, Project
from traces.otlp_metrics import MetricsBatch

log = logging.getLogger(__name__)
DROPPED_NAMES_KEPT = 20


def _when(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC) + timedelta(microseconds=(ns % 1_000_000_000) // 1000)


def metric_points_ingest(*, project: Project, batch: MetricsBatch) -> int:
    """Store a batch's GenAI points (a point sent again is stored once) and count the dropped ones; the number
    of points in the batch kept."""
    rows = [
        MetricPoint(
            project=project,
            name=p.name,
            kind=p.kind,
            unit=p.unit,
            cumulative=p.cumulative,
            model=p.model,
            service_name=p.service_name,
            token_type=p.token_type,
            attributes=p.attributes,
            series_key=p.series_key,
            start_time=_when(p.start_ns) if p.start_ns else None,
            time=_when(p.time_ns),
            value=p.value,
            count=p.count,
            sum=p.sum,
            min=p.min,
            max=p.max,
            bucket_counts=p.bucket_counts,
            bounds=p.bounds,
        )
        for p in batch.points
    ]
    dropped = batch.dropped_count
    if dropped:
        names = ", ".join(f"{name} ({n})" for name, n in batch.dropped.most_common(10))
        log.info(
            "metrics for project %s: %d point(s) of other metrics accepted and dropped: %s", project.pk, dropped, names
        )
    if not rows and not dropped:
        return 0
    with transaction.atomic():
        if rows:
            MetricPoint.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        tally, _ = MetricTally.objects.get_or_create(project=project)
        update = {"stored_points": F("stored_points") + len(rows), "updated_at": timezone.now()}
        if dropped:
            seen = [name for name, _ in batch.dropped.most_common()]
            update["dropped_points"] = F("dropped_points") + dropped
            update["dropped_names"] = (seen + [n for n in tally.dropped_names if n not in seen])[:DROPPED_NAMES_KEPT]
        MetricTally.objects.filter(pk=tally.pk).update(**update)
    return len(rows)


def metric_tally(*, project: Project) -> MetricTally | None:
    return MetricTally.objects.filter(project=project).first()


@dataclass
class Interval:
    count: float = 0.0  # observations (histograms) in the interval
    sum: float = 0.0  # their sum, or the counter's increase, or the gauge's last value


def _deltas(points: list[dict], since: datetime) -> list[tuple[datetime, float, float]]:
    """(time, count, sum) per point of one series, in time order: a delta point as it is; a cumulative one
    minus the point before it (the first one counts from its start when that is in the window; after a reset,
    where the total went down, from zero)."""
    out = []
    before = None
    for p in points:
        count, total = p["count"] or 0, p["sum"] if p["sum"] is not None else (p["value"] or 0.0)
        if not p["cumulative"]:
            out.append((p["time"], count, total))
        elif before is not None and before["start_time"] == p["start_time"] and count >= (before["count"] or 0):
            before_total = before["sum"] if before["sum"] is not None else (before["value"] or 0.0)
            out.append((p["time"], count - (before["count"] or 0), total - before_total))
        elif before is not None or (p["start_time"] is not None and p["start_time"] >= since):
            out.append((p["time"], count, total))
        before = p
    return out


def metric_series(
    *, project: Project, name: str, since: datetime, step: timedelta, by_token_type: bool = False
) -> dict[str, dict[datetime, Interval]]:
    """Per model (and "model · input/output" with by_token_type), per bucket of ``step`` from ``since``: the
    observations and their sum of the metric in the interval. One query; cumulative points are read from one
    step before ``since`` so the first interval has its baseline."""
    rows = (
        MetricPoint.objects.filter(project=project, name=name, time__gte=since - step)
        .order_by("series_key", "time")
        .values("series_key", "time", "start_time", "cumulative", "model", "token_type", "count", "sum", "value")
    )
    by_series: dict[str, list[dict]] = defaultdict(list)
    for row in rows.iterator(chunk_size=2000):
        by_series[row["series_key"]].append(row)
    out: dict[str, dict[datetime, Interval]] = defaultdict(lambda: defaultdict(Interval))
    seconds = step.total_seconds()
    for points in by_series.values():
        label = points[0]["model"] or "(no model)"
        if by_token_type and points[0]["token_type"]:
            label = f"{label} · {points[0]['token_type']}"
        for time, count, total in _deltas(points, since):
            if time < since:
                continue
            bucket = since + timedelta(seconds=((time - since).total_seconds() // seconds) * seconds)
            interval = out[label][bucket]
            interval.count += count
            interval.sum += total
    return {label: dict(buckets) for label, buckets in out.items()}


def metric_names(*, project: Project, since: datetime) -> list[str]:
    return list(
        MetricPoint.objects.filter(project=project, time__gte=since).values_list("name", flat=True).distinct()[:50]
    )
