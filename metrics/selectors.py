"""Reads of the rollups: a metric over a window, as a series, split by a dimension; user costs; deploys.

Only the accumulators a metric needs are read (the JSON key extracted by the database), so a 90-day series is
~2,160 small values per dimension value however many traces they sum; day buckets add hours exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, Sum
from django.db.models.fields.json import KeyTransform

from metrics.accumulators import FIXED, LATENCY_SKETCH, MetricDef, acc_sd, metric_def, metric_value
from metrics.contribution import DAY_PREFIX, SHADOW_DIM
from metrics.models import DIMENSIONS, Deploy, Rollup, TraceContribution, UserCost
from traces.models import Project, Trace

CHOICES_LOOKBACK = timedelta(days=7)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
WORST_SCAN = 50_000  # contributions read at most to find the worst traces of a window


@dataclass(frozen=True)
class Window:
    value: float | None
    n: int
    sd: float | None


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float | None
    n: int


def _keys(metric: str) -> list[str]:
    definition = metric_def(metric)
    if definition is None:
        raise ValueError(f"unknown metric {metric!r}")
    if definition.quantile is not None:
        return [LATENCY_SKETCH]
    if metric == "cost_per_successful_task":
        return ["success_cost", "tasks_completed"]
    return [metric]


def _ceil(at: datetime, step: timedelta) -> datetime:
    floor = at.replace(minute=0, second=0, microsecond=0)
    if step == DAY:
        floor = floor.replace(hour=0)
    return floor if floor == at else floor + step


def _spans(dim: str, start: datetime, end: datetime, days: bool) -> Q:
    """Which rows cover the whole hours in [start, end): the days wholly inside from their day rows (when
    `days`), the ragged edges from hour rows."""
    s, e = _ceil(start, HOUR), _ceil(end, HOUR)
    d0 = _ceil(s, DAY)
    d1 = d0 + (e - d0) // DAY * DAY if e > d0 else d0
    if not days or d1 <= d0:
        return Q(dim=dim, hour__gte=s, hour__lt=e)
    edges = Q(dim=dim, hour__gte=s, hour__lt=d0) | Q(dim=dim, hour__gte=d1, hour__lt=e)
    return edges | Q(dim=DAY_PREFIX + dim, hour__gte=d0, hour__lt=d1)


def _rows(
    project: Project, keys: list[str], dim: str, value: str | None, start: datetime, end: datetime, days: bool = True
):
    """(hour, dim value, {key: accumulator}) of the rollups of the hours in [start, end), only the keys asked for
    (the database extracts them: a row's other accumulators and sketch bins are never decoded). With `days`,
    a whole UTC day inside the range is read from its day row (its "hour" is the day's midnight): callers
    that bucket by hour pass days=False."""
    qs = Rollup.objects.filter(_spans(dim, start, end, days), project=project)
    if value is not None:
        qs = qs.filter(value=value)
    names = [f"k{i}" for i in range(len(keys))]
    qs = qs.order_by().annotate(**{n: KeyTransform(k, "data") for n, k in zip(names, keys, strict=True)})
    for row in qs.values_list("hour", "value", *names):
        data = {k: v for k, v in zip(keys, row[2:], strict=True) if v is not None}
        if data:
            yield row[0], row[1], data


def _merge_into(target: dict, data: dict) -> None:
    """Add accumulators into target in place (reads only add: no count falls to zero, nothing to drop)."""
    for key, acc in data.items():
        have = target.get(key)
        if isinstance(acc, dict):
            if have is None:
                target[key] = {"bins": dict(acc["bins"]), "n": acc["n"]}
                continue
            bins = have["bins"]
            for k, c in acc["bins"].items():
                bins[k] = bins.get(k, 0) + c
            have["n"] += acc["n"]
        elif have is None:
            target[key] = list(acc)
        else:
            have[0] += acc[0]
            have[1] += acc[1]
            have[2] += acc[2]


def _filter(filter: dict | None) -> tuple[str, str | None]:
    if not filter:
        return "all", ""
    if len(filter) != 1:
        raise ValueError("filter takes one dimension")
    (dim, value), = filter.items()  # fmt: skip
    if (dim not in DIMENSIONS and dim != SHADOW_DIM) or dim == "all":
        raise ValueError(f"unknown dimension {dim!r}")
    return dim, str(value)


def _window(metric: str, data: dict) -> Window:
    value, n = metric_value(metric, data)
    definition = metric_def(metric)
    sd = None if definition.quantile is not None or metric == "cost_per_successful_task" else acc_sd(data.get(metric))
    return Window(value=value, n=n, sd=sd)


def metric_window(
    *, project: Project, metric: str, filter: dict | None = None, start: datetime, end: datetime
) -> Window:
    """The metric over [start, end): its value, sample size and the items' spread."""
    if metric == "cost_per_user":
        return _cost_per_user(project, filter, start, end)
    dim, value = _filter(filter)
    merged: dict = {}
    for _, _, data in _rows(project, _keys(metric), dim, value, start, end):
        _merge_into(merged, data)
    return _window(metric, merged)


def _cost_per_user(project: Project, filter: dict | None, start: datetime, end: datetime) -> Window:
    """Sum of cost / distinct users; UserCost has no dimensions, so a filtered window has no value."""
    if filter:
        return Window(None, 0, None)
    costs = user_costs(project=project, start=start, end=end)
    if not costs:
        return Window(None, 0, None)
    values = list(costs.values())
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 if len(values) > 1 else None
    return Window(mean, len(values), sd)


def _bucket(at: datetime, bucket: str) -> datetime:
    at = at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def metric_series(
    *, project: Project, metric: str, filter: dict | None = None, start: datetime, end: datetime, bucket: str = "hour"
) -> list[Point]:
    """The metric per hour or per UTC day in [start, end); empty buckets are left out."""
    return metric_series_many(project=project, metrics=[metric], filter=filter, start=start, end=end, bucket=bucket)[
        metric
    ]


def metric_series_many(
    *,
    project: Project,
    metrics: list[str],
    filter: dict | None = None,
    start: datetime,
    end: datetime,
    bucket: str = "hour",
) -> dict[str, list[Point]]:
    """Several metrics' series from one read of the rollup rows (a chart with several lines)."""
    if bucket not in ("hour", "day"):
        raise ValueError("bucket is hour or day")
    out: dict[str, list[Point]] = {}
    if "cost_per_user" in metrics:
        out["cost_per_user"] = _cost_per_user_series(project, filter, start, end, bucket)
    metrics = [m for m in metrics if m != "cost_per_user"]
    if not metrics:
        return out
    keys = list(dict.fromkeys(k for m in metrics for k in _keys(m)))
    dim, value = _filter(filter)
    merged: dict[datetime, dict] = {}
    for hour, _, data in _rows(project, keys, dim, value, start, end, days=bucket == "day"):
        _merge_into(merged.setdefault(_bucket(hour, bucket), {}), data)
    for metric in metrics:
        out[metric] = [Point(at, v, n) for at in sorted(merged) for v, n in [metric_value(metric, merged[at])] if n]
    return out


def metric_series_split(
    *, project: Project, metric: str, dim: str, start: datetime, end: datetime, bucket: str = "hour", limit: int = 8
) -> list[tuple[str, list[Point]]]:
    """One series per value of a dimension (the values with the largest samples first, at most `limit`), from
    one read of the rollup rows."""
    if dim not in DIMENSIONS or dim == "all":
        raise ValueError(f"unknown dimension {dim!r}")
    per: dict[str, dict[datetime, dict]] = {}
    for hour, value, data in _rows(project, _keys(metric), dim, None, start, end, days=bucket == "day"):
        _merge_into(per.setdefault(value, {}).setdefault(_bucket(hour, bucket), {}), data)
    out = []
    for value, buckets in per.items():
        points = [Point(at, v, n) for at in sorted(buckets) for v, n in [metric_value(metric, buckets[at])] if n]
        if points:
            out.append((value, points))
    out.sort(key=lambda x: (-sum(p.n for p in x[1]), x[0]))
    return out[:limit]


def _cost_per_user_series(project, filter, start, end, bucket) -> list[Point]:
    if filter:
        return []
    per: dict[datetime, dict[str, float]] = {}
    rows = UserCost.objects.filter(project=project, hour__gte=start, hour__lt=end, traces__gt=0).order_by()
    for hour, user, cost in rows.values_list("hour", "user_id", "cost"):
        users = per.setdefault(_bucket(hour, bucket), {})
        users[user] = users.get(user, 0.0) + cost
    return [Point(at, sum(u.values()) / len(u), len(u)) for at, u in sorted(per.items())]


def metric_breakdown(
    *, project: Project, metric: str, dim: str, start: datetime, end: datetime
) -> list[tuple[str, Window]]:
    """The metric per value of one dimension over [start, end), the largest samples first."""
    if dim not in DIMENSIONS or dim == "all":
        raise ValueError(f"unknown dimension {dim!r}")
    if metric == "cost_per_user":
        return []
    merged: dict[str, dict] = {}
    for _, value, data in _rows(project, _keys(metric), dim, None, start, end):
        _merge_into(merged.setdefault(value, {}), data)
    out = [(value, _window(metric, data)) for value, data in merged.items()]
    return sorted((x for x in out if x[1].n), key=lambda x: (-x[1].n, x[0]))


def user_costs(*, project: Project, start: datetime, end: datetime) -> dict[str, float]:
    """Cost per user_id over [start, end)."""
    rows = (
        UserCost.objects.filter(project=project, hour__gte=start, hour__lt=end, traces__gt=0)
        .order_by()
        .values("user_id")
        .annotate(cost=Sum("cost"))
    )
    return {r["user_id"]: r["cost"] for r in rows}


def deploys_between(*, project: Project, start: datetime, end: datetime) -> list[Deploy]:
    """Deploys in [start, end], newest first."""
    return list(Deploy.objects.filter(project=project, at__gte=start, at__lte=end).order_by("-at", "-pk"))


def metric_choices(project: Project) -> list[MetricDef]:
    """The fixed metrics, then a score and a pass rate per evaluator seen in the last week's rollups."""
    from django.utils import timezone

    since = timezone.now() - CHOICES_LOOKBACK
    seen: set[str] = set()
    for data in Rollup.objects.filter(project=project, dim="all", hour__gte=since).values_list("data", flat=True):
        seen.update(k for k in data if k.startswith(("score:", "pass:")))
    return [*FIXED.values(), *(metric_def(k) for k in sorted(seen))]


def worst_traces(
    *,
    project: Project,
    metric: str,
    filter: dict | None = None,
    start: datetime,
    end: datetime,
    limit: int = 5,
    higher_is_better: bool = True,
) -> list[Trace]:
    """The traces that pulled the metric the bad way over [start, end), read from their contributions."""
    definition = metric_def(metric)
    if definition is None:
        raise ValueError(f"unknown metric {metric!r}")
    key = {"cost_per_successful_task": "success_cost", "cost_per_user": "cost_per_trace"}.get(metric, metric)
    if definition.quantile is not None:
        key = "latency_ms"
    dim, value = _filter(filter)
    qs = TraceContribution.objects.filter(project=project, hour__gte=start, hour__lt=end).order_by()
    if dim in ("release", "environment", "intent", SHADOW_DIM):
        qs = qs.filter(**{f"dims__{dim}": value})
    found = []
    for trace_pk, acc, dims in qs.annotate(acc=KeyTransform(key, "data")).values_list("trace", "acc", "dims")[
        :WORST_SCAN
    ]:
        if not acc or not acc[1]:
            continue
        if dim == "model" and value not in (dims.get("model") or []):
            continue
        found.append((acc[0] / acc[1], trace_pk))
    found.sort(key=lambda x: (x[0] if higher_is_better else -x[0], x[1]))
    pks = [pk for _, pk in found[:limit]]
    by_pk = Trace.objects.in_bulk(pks)
    return [by_pk[pk] for pk in pks if pk in by_pk]


def releases(*, project: Project, start: datetime, end: datetime) -> list[dict]:
    """Each release seen in rollups or deploys: first seen, traces, its deploys, and key metrics over the window."""
    deploys: dict[str, list[Deploy]] = {}
    for d in Deploy.objects.filter(project=project).order_by("at"):
        deploys.setdefault(d.version, []).append(d)
    stats = {
        r["value"]: r
        for r in Rollup.objects.filter(project=project, dim="release")
        .order_by()
        .values("value")
        .annotate(first=Min("hour"), traces=Sum("traces"), hours=Count("pk"))
    }
    keys = ("error_rate", "latency_p95_ms", "cost_per_trace", "thumbs_down_rate")
    metrics: dict[str, dict[str, Window]] = {}
    for key in keys:
        for value, window in metric_breakdown(project=project, metric=key, dim="release", start=start, end=end):
            metrics.setdefault(value, {})[key] = window
    out = []
    for version in set(stats) | set(deploys):
        first = [x for x in [stats.get(version, {}).get("first"), *(d.at for d in deploys.get(version, []))] if x]
        out.append(
            {
                "version": version,
                "first_seen": min(first) if first else None,
                "traces": (stats.get(version) or {}).get("traces") or 0,
                "deploys": deploys.get(version, []),
                "metrics": metrics.get(version, {}),
            }
        )
    return sorted(out, key=lambda r: (r["first_seen"] is not None, r["first_seen"]), reverse=True)


def rollup_totals(*, project: Project, dim: str, value: str, start: datetime, end: datetime) -> tuple[int, dict]:
    """Traces and every accumulator of one dimension value over the whole hours in [start, end), merged: whole
    UTC days from their day rows, the edges from hour rows (a 30-day window reads ~30 + 48 rows, whatever the
    traffic). dim "shadow_release" reads shadow traffic, which no other dimension holds."""
    if dim not in DIMENSIONS and dim != SHADOW_DIM:
        raise ValueError(f"unknown dimension {dim!r}")
    traces, merged = 0, {}
    rows = Rollup.objects.filter(_spans(dim, start, end, True), project=project, value=value).order_by()
    for n, data in rows.values_list("traces", "data"):
        traces += n
        _merge_into(merged, data)
    return traces, merged


def rollup_traces(*, project: Project, dim: str, start: datetime, end: datetime) -> dict[str, int]:
    """Traces per value of a dimension over the whole hours in [start, end) ("all": {"": n}), one grouped read."""
    rows = Rollup.objects.filter(_spans(dim, start, end, True), project=project).order_by().values("value")
    return {r["value"]: r["n"] for r in rows.annotate(n=Sum("traces"))}


def release_versions(*, project: Project) -> list[str]:
    """Every release seen in production or shadow rollups (their day rows) or in deploys, sorted."""
    seen = set(
        Rollup.objects.filter(project=project, dim__in=[DAY_PREFIX + "release", DAY_PREFIX + SHADOW_DIM])
        .order_by()
        .values_list("value", flat=True)
        .distinct()
    )
    seen.update(Deploy.objects.filter(project=project).values_list("version", flat=True))
    return sorted(v for v in seen if v)
