"""Shared by the metrics tests: an hour to put traces in, and rollup rows as comparable data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from metrics.models import Rollup

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ago(hours: int, minutes: int = 10) -> float:
    """A time, in seconds since the epoch, `minutes` into the hour that started `hours` hours ago."""
    return (NOW - timedelta(hours=hours) + timedelta(minutes=minutes)).timestamp()


def rollup_state(project) -> dict:
    return {
        (r.dim, r.value, r.hour): (r.traces, r.data)
        for r in Rollup.objects.filter(project=project).order_by("dim", "value", "hour")
    }
