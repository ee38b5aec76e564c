"""Reads for insights: the ranked Insights tab, one insight, a trace's findings, and the dashboards' aggregates.

Ranking. An insight's rank is the time its fix would save per day over a window (24 h, 7 d, 30 d): the savings
of its findings in traces that started in the window, divided by the days of data the window holds (at least
one, at most the window), so a project two days old is not divided by seven. Ties (and ``sort="money"``) use
dollars per day. Three queries: the window's oldest finding and one grouped query over the window's findings
(index ``finding_window``), then the insights with their example traces (kept on the row).

Dashboards read traces.Trace / traces.Span, and evals through its models (Score). Percentiles are PostgreSQL's
``percentile_cont``; on SQLite (the laptop default) they are computed in Python from the rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Min, Q, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from evals.models import Score
from insights.detectors import DETECTORS
from insights.models import Finding, Insight
from traces.models import Project, Span, Trace

DAY = timedelta(days=1)
WINDOWS = {"24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
DEFAULT_WINDOW = "7d"
STATUS_FILTERS = ("active", "open", "regressed", "dismissed", "fixed", "all")  # active = open + regressed
DETECTOR_IDS = tuple(detector_id for detector_id, _ in DETECTORS)


# --- The Insights tab --------------------------------------------------------------------------------------------


@dataclass
class InsightFilters:
    window: str = DEFAULT_WINDOW
    status: str = "all"  # one of STATUS_FILTERS
    detector: str = ""
    service: str = ""
    search: str = ""
    sort: str = "time"  # time | money


@dataclass
class RankedInsight:
    insight: Insight
    window_count: int = 0
    window_saving_ms: float = 0.0
    window_saving_usd: float = 0.0
    saving_ms_per_day: float = 0.0
    saving_usd_per_day: float = 0.0
    examples: list[dict] = field(default_factory=list)  # newest first: trace_id, saving_ms, saving_usd, seen_at


@dataclass
class RankedPage:
    items: list[RankedInsight]
    total: int
    window: str
    days: float  # what the window's savings were divided by


def insights_filtered(*, project: Project, filters: InsightFilters) -> QuerySet[Insight]:
    qs = Insight.objects.filter(project=project, count__gt=0)
    status = filters.status or "all"
    if status == "active":
        qs = qs.filter(status__in=(Insight.Status.OPEN, Insight.Status.REGRESSED))
    elif status != "all":
        qs = qs.filter(status=status)
    if filters.detector:
        qs = qs.filter(detector=filters.detector)
    if filters.service:
        qs = qs.filter(service=filters.service)
    if filters.search:
        term = filters.search
        qs = qs.filter(
            Q(title__icontains=term)
            | Q(operation__icontains=term)
            | Q(parent_operation__icontains=term)
            | Q(service__icontains=term)
            | Q(message__icontains=term)
        )
    return qs


def window_days(*, project: Project, window: str, now: datetime) -> tuple[datetime, float]:
    """The window's start, and the days of data it holds: from the project's oldest finding in it (at least one
    day, at most the window). The same divisor for every insight, so per-day figures rank as the totals do."""
    since = now - WINDOWS[window]
    oldest = Finding.objects.filter(project=project, seen_at__gte=since).aggregate(m=Min("seen_at"))["m"] or now
    return since, min(max((now - oldest) / DAY, 1.0), WINDOWS[window] / DAY)


def _window_stats(project: Project, since: datetime, insight_id: int | None = None) -> dict[int, dict]:
    """Per insight: findings, and their savings, in traces that started since ``since``. One grouped query over
    the window (index finding_window); the insights' own filters apply afterwards, in Python."""
    rows = Finding.objects.filter(project=project, seen_at__gte=since)
    if insight_id is not None:
        rows = rows.filter(insight_id=insight_id)
    rows = rows.values("insight_id").annotate(n=Count("insight_id"), ms=Sum("saving_ms"), usd=Sum("saving_usd"))
    rows = rows.order_by()
    return {row["insight_id"]: row for row in rows}


def _examples(insight: Insight) -> list[dict]:
    return [{**e, "seen_at": datetime.fromisoformat(e["seen_at"])} for e in insight.examples or ()]


def _ranked(insight: Insight, row: dict | None, days: float) -> RankedInsight:
    item = RankedInsight(insight=insight, examples=_examples(insight))
    if row:
        item.window_count = row["n"]
        item.window_saving_ms, item.window_saving_usd = row["ms"] or 0.0, row["usd"] or 0.0
        item.saving_ms_per_day = item.window_saving_ms / days
        item.saving_usd_per_day = item.window_saving_usd / days
    return item


def insights_ranked(
    *, project: Project, filters: InsightFilters, limit: int = 50, offset: int = 0, now: datetime | None = None
) -> RankedPage:
    """The project's insights matching the filters, largest saving per day first (three queries)."""
    now = now or timezone.now()
    window = filters.window if filters.window in WINDOWS else DEFAULT_WINDOW
    since, days = window_days(project=project, window=window, now=now)
    stats = _window_stats(project, since)
    ranked = [_ranked(i, stats.get(i.pk), days) for i in insights_filtered(project=project, filters=filters)]
    if filters.sort == "money":
        ranked.sort(key=lambda r: (-r.saving_usd_per_day, -r.saving_ms_per_day, -r.insight.total_saving_usd))
    else:
        ranked.sort(key=lambda r: (-r.saving_ms_per_day, -r.saving_usd_per_day, -r.insight.total_saving_ms))
    return RankedPage(items=ranked[offset : offset + limit], total=len(ranked), window=window, days=days)


def insight_ranked(*, insight: Insight, window: str = DEFAULT_WINDOW, now: datetime | None = None) -> RankedInsight:
    """One insight with its window figures, as insights_ranked computes them."""
    now = now or timezone.now()
    window = window if window in WINDOWS else DEFAULT_WINDOW
    since, days = window_days(project=insight.project, window=window, now=now)
    return _ranked(insight, _window_stats(insight.project, since, insight.pk).get(insight.pk), days)


def insight_filter_choices(*, project: Project) -> dict[str, list[str]]:
    """Detector ids (all of them) and the services the project's insights come from, for the filter menus."""
    services = Insight.objects.filter(project=project).exclude(service="").values_list("service", flat=True)
    return {"detectors": list(DETECTOR_IDS), "services": sorted(set(services))}


def insight_get(*, project: Project, insight_id: int) -> Insight | None:
    return Insight.objects.filter(project=project, pk=insight_id).first()


def insight_findings(*, insight: Insight, limit: int = 50) -> list[Finding]:
    """An insight's newest findings with their trace ids."""
    return list(
        Finding.objects.filter(insight=insight)
        .select_related("trace")
        .only(
            "saving_ms", "saving_usd", "seen_at", "span_ids", "severity", "message", "endpoint",
            "trace__trace_id", "trace__name", "trace__duration_ms",
        )
        .order_by("-seen_at", "-pk")[:limit]
    )  # fmt: skip


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _finding_order(f: Finding) -> tuple:
    return (_SEVERITY_ORDER.get(f.severity, 3), -f.saving_ms, -f.saving_usd, f.pk)


def trace_findings(*, trace: Trace) -> list[Finding]:
    """A trace's findings, most severe and largest saving first, with their insight (one query).

    Detection runs when a trace completes, so a trace in progress has none to show, and costs no query: one
    reopened by a late span shows its new findings once it settles again.
    """
    if trace.completed_at is None:
        return []
    return sorted(Finding.objects.filter(trace=trace).select_related("insight"), key=_finding_order)


def trace_finding_marks(*, trace: Trace) -> dict[str, str]:
    """finding_span_marks for a trace, reading only what it needs (one query, none in progress): the waterfall's
    next rows."""
    if trace.completed_at is None:
        return {}
    findings = Finding.objects.filter(trace=trace).only("severity", "saving_ms", "saving_usd", "span_ids")
    return finding_span_marks(sorted(findings, key=_finding_order))


def finding_span_marks(findings: Iterable[Finding]) -> dict[str, str]:
    """span id -> the numbers (1-based, as listed) of the findings that involve it, e.g. "1" or "1, 3"."""
    marks: dict[str, list[str]] = defaultdict(list)
    for number, finding in enumerate(findings, start=1):
        for span_id in finding.span_ids:
            if str(number) not in marks[span_id]:
                marks[span_id].append(str(number))
    return {span_id: ", ".join(numbers) for span_id, numbers in marks.items()}


# --- Dashboards ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeRange:
    key: str
    span: timedelta
    unit: str  # Trunc kind of a bucket: minute | hour | day
    label: str

    @property
    def step(self) -> timedelta:
        return {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": DAY}[self.unit]


RANGES = {
    "1h": TimeRange("1h", timedelta(hours=1), "minute", "the last hour"),
    "24h": TimeRange("24h", DAY, "hour", "the last 24 hours"),
    "7d": TimeRange("7d", 7 * DAY, "hour", "the last 7 days"),
    "30d": TimeRange("30d", 30 * DAY, "day", "the last 30 days"),
    "90d": TimeRange("90d", 90 * DAY, "day", "the last 90 days"),
}
DEFAULT_RANGE = "24h"
BREAKDOWN_LIMIT = 12  # groups shown; the rest are summed into "other"
SCORES_PER_EVALUATOR = 20_000  # a distribution needs a sample, not every score


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont(p) WITHIN GROUP (ORDER BY expr)."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, percentile: float, **extra):
        super().__init__(expression, percentile=float(percentile), **extra)


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks, as percentile_cont does."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * p
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return sorted_values[low]
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _grouped_percentiles(qs: QuerySet, key: str, value: str, ps: tuple[float, ...]) -> dict:
    """{group: {p: value}} for the non-null values of ``value`` grouped by ``key`` (a field or an annotation)."""
    qs = qs.filter(**{f"{value}__isnull": False})
    if connection.vendor == "postgresql":
        rows = qs.values(key).annotate(**{f"p{i}": Percentile(value, p) for i, p in enumerate(ps)}).order_by()
        return {row[key]: {p: row[f"p{i}"] for i, p in enumerate(ps)} for row in rows}
    values: dict = defaultdict(list)
    for group, v in qs.values_list(key, value).order_by():
        values[group].append(v)
    return {group: {p: percentile(sorted(vs), p) for p in ps} for group, vs in values.items()}


def range_since(range_key: str, now: datetime | None = None) -> tuple[TimeRange, datetime, datetime]:
    time_range = RANGES.get(range_key) or RANGES[DEFAULT_RANGE]
    now = now or timezone.now()
    return time_range, now - time_range.span, now


def buckets(time_range: TimeRange, since: datetime, now: datetime) -> list[datetime]:
    """Every bucket start from the one holding ``since`` to the one holding ``now``, so quiet hours show as zero."""
    step = time_range.step
    first = since.replace(second=0, microsecond=0)
    if time_range.unit in ("hour", "day"):
        first = first.replace(minute=0)
    if time_range.unit == "day":
        first = first.replace(hour=0)
    out = []
    at = first
    while at <= now:
        out.append(at)
        at += step
    return out


def _traces(project: Project, since: datetime, until: datetime | None = None, filters=None) -> QuerySet[Trace]:
    # Shadow traffic (a candidate's answers to copies of requests) is never counted in what users see.
    qs = Trace.objects.filter(project=project, is_internal=False, traffic="production", start_time__gte=since)
    if until is not None:
        qs = qs.filter(start_time__lt=until)
    if filters is not None:  # the trace list's filters (traces.selectors.TraceFilters), as a subquery
        from traces.selectors import traces_filtered

        qs = qs.filter(pk__in=traces_filtered(project=project, filters=filters).values("pk"))
    return qs


def _of_traces(qs: QuerySet, project: Project, since: datetime, until, filters) -> QuerySet:
    """Rows of another model (spans, scores) restricted to the range's end and the filters, when given."""
    if until is None and filters is None:
        return qs
    return qs.filter(trace_id__in=_traces(project, since, until, filters).values("pk"))


def trace_series(
    *, project: Project, time_range: TimeRange, since: datetime, until: datetime | None = None, filters=None
) -> list[dict]:
    """Per bucket: traces, errors (traces with status error), tokens in/out, cost. Buckets without traces absent."""
    return list(
        _traces(project, since, until, filters)
        .annotate(bucket=Trunc("start_time", time_range.unit))
        .values("bucket")
        .annotate(
            traces=Count("id"),
            errors=Count("id", filter=Q(status="error")),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=Sum("cost"),
        )
        .order_by("bucket")
    )


# The dashboard's page-wide split (insights.dashboard.SPLITS): the trace field each value is read from. A trace's
# models are its distinct models, space-separated: a trace that called two models is its own group.
SPLIT_FIELDS = {"release": "release", "model": "models_used", "environment": "environment"}
MAX_SPLIT_GROUPS = 6  # the largest groups by traces; the rest are summed as OTHER_GROUP
OTHER_GROUP = "other"


def trace_series_split(
    *, project: Project, time_range: TimeRange, since: datetime, dim: str, until: datetime | None = None, filters=None
) -> list[tuple[str, dict[datetime, dict]]]:
    """Per group of ``dim`` (largest first, "(none)" for traces without one), per bucket: traces, errors, tokens,
    cost and the p50 duration (ms). Buckets without traces are absent."""
    key = SPLIT_FIELDS[dim]
    qs = _traces(project, since, until, filters).annotate(bucket=Trunc("start_time", time_range.unit))
    rows = list(
        qs.values("bucket", key)
        .annotate(
            traces=Count("id"),
            errors=Count("id", filter=Q(status="error")),
            tokens=Sum("total_tokens"),
            cost=Sum("cost"),
        )
        .order_by()
    )
    sizes: dict[str, int] = defaultdict(int)
    for row in rows:
        sizes[row[key] or "(none)"] += row["traces"]
    kept = sorted(sizes, key=lambda g: (-sizes[g], g))[:MAX_SPLIT_GROUPS]
    p50 = _split_p50(qs, key)
    groups: dict[str, dict[datetime, dict]] = defaultdict(dict)
    for row in rows:
        group = row[key] or "(none)"
        group = group if group in kept else OTHER_GROUP
        at = groups[group].setdefault(row["bucket"], {"traces": 0, "errors": 0, "tokens": 0, "cost": 0.0})
        at["traces"] += row["traces"]
        at["errors"] += row["errors"]
        at["tokens"] += row["tokens"] or 0
        at["cost"] += row["cost"] or 0.0
        at["p50"] = None if group == OTHER_GROUP else p50.get((row["bucket"], row[key]))  # no median of a sum
    order = [*kept, OTHER_GROUP] if OTHER_GROUP not in kept else kept
    return [(group, groups[group]) for group in order if group in groups]


def _split_p50(qs: QuerySet, key: str) -> dict[tuple, float | None]:
    """{(bucket, group value): p50 of duration_ms}."""
    qs = qs.filter(duration_ms__isnull=False)
    if connection.vendor == "postgresql":
        rows = qs.values("bucket", key).annotate(p=Percentile("duration_ms", 0.5)).order_by()
        return {(row["bucket"], row[key]): row["p"] for row in rows}
    values: dict = defaultdict(list)
    for bucket, group, v in qs.values_list("bucket", key, "duration_ms").order_by():
        values[(bucket, group)].append(v)
    return {k: percentile(sorted(vs), 0.5) for k, vs in values.items()}


def latency_series(
    *, project: Project, time_range: TimeRange, since: datetime, until: datetime | None = None, filters=None
) -> dict[datetime, dict]:
    """Per bucket: p50 and p95 of the traces' durations (ms)."""
    qs = _traces(project, since, until, filters).annotate(bucket=Trunc("start_time", time_range.unit))
    return _grouped_percentiles(qs, "bucket", "duration_ms", (0.5, 0.95))


def _breakdown(qs: QuerySet, key: str, duration: str, count_name: str) -> list[dict]:
    rows = list(
        qs.values(key)
        .annotate(
            n=Count("id"),
            errors=Count("id", filter=Q(status="error")),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=Sum("cost"),
        )
        .order_by("-n", key)
    )
    p50 = _grouped_percentiles(qs, key, duration, (0.5,))
    out = [
        {
            "group": row[key],
            count_name: row["n"],
            "errors": row["errors"],
            "error_rate": row["errors"] / row["n"] if row["n"] else 0.0,
            "input_tokens": row["input_tokens"] or 0,
            "output_tokens": row["output_tokens"] or 0,
            "cost": row["cost"] or 0.0,
            "p50_ms": (p50.get(row[key]) or {}).get(0.5),
        }
        for row in rows
    ]
    return out[:BREAKDOWN_LIMIT]


def breakdown_by_model(*, project: Project, since: datetime, until=None, filters=None) -> list[dict]:
    """Model calls (llm and embedding spans) per model: calls, errors, tokens, cost, p50 latency."""
    spans = Span.objects.filter(
        project=project,
        trace__start_time__gte=since,
        trace__is_internal=False,
        trace__traffic="production",
        kind__in=("llm", "embedding"),
    ).exclude(model="")
    return _breakdown(_of_traces(spans, project, since, until, filters), "model", "duration_ms", "calls")


def breakdown_by_prompt_version(*, project: Project, since: datetime, until=None, filters=None) -> list[dict]:
    """LLM calls per prompt version (``llm.prompt_template.version``, ``traceloop.prompt.version``, Langfuse)."""
    spans = Span.objects.filter(
        project=project, trace__start_time__gte=since, trace__is_internal=False, trace__traffic="production", kind="llm"
    ).exclude(prompt_version="")
    return _breakdown(_of_traces(spans, project, since, until, filters), "prompt_version", "duration_ms", "calls")


def breakdown_by_release(*, project: Project, since: datetime, until=None, filters=None) -> list[dict]:
    """Traces per release (``service.version`` or the Langfuse release): traces, errors, tokens, cost, p50."""
    return _breakdown(_traces(project, since, until, filters).exclude(release=""), "release", "duration_ms", "traces")


def _scores(project: Project, since: datetime) -> QuerySet[Score]:
    """Done scores of the traces that started in the range: over time means the traffic's time (a judge that
    ran late, or a backfill, lands where its trace is). Feedback is stored as scores too; it is no evaluator."""
    return (
        Score.objects.filter(
            project=project,
            status=Score.Status.DONE,
            trace__start_time__gte=since,
            trace__is_internal=False,
            trace__traffic="production",
        )
        .exclude(source=Score.Source.FEEDBACK)
        .exclude(mode="shadow")
    )  # shadow rules never count (evals.modes)


def evaluator_score_values(*, project: Project, since: datetime, until=None, filters=None) -> dict[str, list[float]]:
    """Each evaluator's score values in the range (the newest SCORES_PER_EVALUATOR of each)."""
    values: dict[str, list[float]] = defaultdict(list)
    rows = (
        _of_traces(_scores(project, since), project, since, until, filters)
        .filter(value__isnull=False)
        .order_by("evaluator", "-trace__start_time")
        .values_list("evaluator", "value")
    )
    for evaluator, value in rows:
        if len(values[evaluator]) < SCORES_PER_EVALUATOR:
            values[evaluator].append(value)
    return dict(sorted(values.items()))


def evaluator_pass_rates(
    *, project: Project, time_range: TimeRange, since: datetime, until=None, filters=None
) -> list[dict]:
    """Per bucket and evaluator: scores with a verdict, and how many passed."""
    return list(
        _of_traces(_scores(project, since), project, since, until, filters)
        .filter(passed__isnull=False)
        .annotate(bucket=Trunc("trace__start_time", time_range.unit))
        .values("bucket", "evaluator")
        .annotate(n=Count("id"), passed_n=Count("id", filter=Q(passed=True)))
        .order_by("evaluator", "bucket")
    )
