"""What a Dashboards request asks for: its time range (a preset or a custom range), the trace filters, the split,
and the trace list URL a click on a chart opens (pure: query parameters in, plain data out).

The filters are the trace list's own (traces.selectors.TraceFilters, the same names in the URL), so a chart and
the traces a click on it opens agree. Charts that read traces apply them all; charts that read the hourly
rollups (metrics) can answer only what the rollups are kept by: one of release, model and environment, equal
to a value. They say which filters they left out (metrics.charts.rollup_filter).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from insights.selectors import DEFAULT_RANGE, RANGES, TimeRange
from traces.selectors import TraceFilters

# The trace filters the Dashboards page offers (TraceFilters' names, as in the trace list's URL).
FILTER_PARAMS = ("name", "status", "model", "service", "release", "environment", "user_id", "session_id", "tag",
                 "has_error", "min_duration_ms", "max_duration_ms", "min_cost", "max_cost")  # fmt: skip
# "none", or one series per release / model / environment on the trace charts (insights.charts) and the rollup
# chart's lines (metrics.charts, which splits by release when the page does not).
SPLITS = ("none", "release", "model", "environment")
DEFAULT_SPLIT = "none"
MAX_CUSTOM = timedelta(days=366)


@dataclass
class DashboardQuery:
    time_range: TimeRange
    since: datetime
    until: datetime
    custom: bool = False
    filters: TraceFilters | None = None  # None: no filter set
    filter_params: dict[str, str] = field(default_factory=dict)  # the filters set, as URL parameters
    split: str = DEFAULT_SPLIT


def parse_time(text: str) -> datetime | None:
    """An ISO time or a datetime-local value ("2026-05-01T09:30"); without a zone it is UTC."""
    if not text:
        return None
    try:
        at = parse_datetime(text.strip().replace(" ", "T"))
    except ValueError:
        return None
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if timezone.is_naive(at) else at.astimezone(UTC)


def custom_range(since: datetime, until: datetime) -> TimeRange:
    """Buckets a custom range can be drawn in: minutes up to 3 hours, hours up to 8 days, days beyond."""
    span = until - since
    unit = "minute" if span <= timedelta(hours=3) else "hour" if span <= timedelta(days=8) else "day"
    label = f"{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC"
    return TimeRange("custom", span, unit, label)


def trace_filters(params: Mapping[str, str]) -> tuple[TraceFilters | None, dict[str, str]]:
    """TraceFilters from the set filter parameters (each cast as its TraceFilters field; a bad number is left
    out), and those parameters as given."""
    known = {f.name: f for f in dataclasses.fields(TraceFilters)}
    kwargs: dict = {}
    used: dict[str, str] = {}
    for name in FILTER_PARAMS:
        raw = (params.get(name) or "").strip()
        if not raw or name not in known:
            continue
        default = known[name].default
        if name == "has_error":
            if raw not in ("true", "false"):
                continue
            kwargs[name] = raw == "true"
        elif isinstance(default, str):
            kwargs[name] = raw
        else:
            try:
                kwargs[name] = float(raw)
            except ValueError:
                continue
        used[name] = raw
    return (TraceFilters(**kwargs) if kwargs else None), used


def parse(params: Mapping[str, str], now: datetime | None = None) -> DashboardQuery:
    """The range (``start``/``end`` make a custom range, else the ``range`` preset), filters and split asked for."""
    now = now or timezone.now()
    filters, used = trace_filters(params)
    split = params.get("split") or DEFAULT_SPLIT
    split = split if split in SPLITS else DEFAULT_SPLIT
    start, end = parse_time(params.get("start", "")), parse_time(params.get("end", ""))
    if start is not None:
        end = min(end or now, start + MAX_CUSTOM)
        if end > start:
            return DashboardQuery(custom_range(start, end), start, end, True, filters, used, split)
    time_range = RANGES.get(params.get("range", "")) or RANGES[DEFAULT_RANGE]
    return DashboardQuery(time_range, now - time_range.span, now, False, filters, used, split)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
