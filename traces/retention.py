"""Retention rules, as plain data (no database): the three tiers, the Peekr SDK's retention classes, the cutoffs a
run works to, and the span table's time partitions on PostgreSQL. The job that applies them is
traces/retention_run.py; the partitions' DDL is traces/partitions.py.

Tiers (per project, traces.models.RetentionPolicy; these are the defaults):
- content, 30 days: a span's inputs, outputs, messages, documents, tool arguments and results, attributes and
  events (and the trace's input/output previews, and GenAI log records) are removed; the span row stays.
- flagged, 90 days: the content of a flagged trace (a failing score, a finding, a user signal other than praise,
  an item in a review queue: what the apps above traces say through traces.extensions.retention_keep_hooks).
- record, 365 days: traces and spans themselves (structure and timings), with their scores, findings, signals,
  review items and metric rollups.

A Peekr SDK span's ``retention_class`` (kept as the attribute ``peekr.retention_class``) shortens its own content's
life when its class says less than the project does: ``short`` 7 days (the SDK's "debug"), ``pii`` 1 day.
``default`` and ``long`` (and anything else) change nothing: a client can shorten, never lengthen, what a project
keeps. It applies to flagged traces too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_CONTENT_DAYS = 30
DEFAULT_FLAGGED_DAYS = 90
DEFAULT_RECORD_DAYS = 365
MAX_DAYS = 3650

CLASS_ATTRIBUTE = "peekr.retention_class"
CLASS_CONTENT_DAYS = {"short": 7, "pii": 1}
# Set on a span's attributes when its content is removed (the attributes go with the rest of the content): the
# span page's tombstone, and what makes a second run skip the row.
EXPIRED_MARKER = "peekr.content_expired_at"

# The span columns that are content, with the value they take when it expires (attributes: the marker).
CONTENT_CLEARED = {
    "input_text": "",
    "output_text": "",
    "input_messages": [],
    "output_messages": [],
    "documents": [],
    "tool_arguments": "",
    "tool_result": "",
    "events": [],
    "lean": None,  # traces.lean's record: nothing left to rebuild
}


def days_errors(*, content_days: int, flagged_days: int, record_days: int) -> list[str]:
    """What is wrong with a policy; empty when it can be saved. Each tier keeps at least what the one before does."""
    errors = []
    for name, value in (("content_days", content_days), ("flagged_days", flagged_days), ("record_days", record_days)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
            errors.append(f"{name} must be a whole number of days from 1 to {MAX_DAYS}")
    if errors:
        return errors
    if flagged_days < content_days:
        errors.append("flagged traces must be kept at least as long as content (flagged_days >= content_days)")
    if record_days < flagged_days:
        errors.append("records must be kept at least as long as flagged traces (record_days >= flagged_days)")
    return errors


@dataclass(frozen=True)
class Pass:
    """One content pass of a run: spans that started before ``cutoff`` lose their content. ``name`` keys the
    policy's progress; ``keep_flagged``: spans of flagged traces are left alone; ``retention_class``: only spans
    the SDK gave this class."""

    name: str
    cutoff: datetime
    keep_flagged: bool = False
    retention_class: str = ""


def content_passes(*, content_days: int, flagged_days: int, now: datetime) -> list[Pass]:
    """The content passes of one project, in the order they run: the SDK's shorter classes, flagged traces past
    their tier (everything left), then content past its tier except flagged traces."""
    passes = [
        Pass(name=f"class:{cls}", cutoff=now - timedelta(days=days), retention_class=cls)
        for cls, days in sorted(CLASS_CONTENT_DAYS.items())
        if days < content_days
    ]
    passes.append(Pass(name="flagged", cutoff=now - timedelta(days=flagged_days)))
    passes.append(Pass(name="content", cutoff=now - timedelta(days=content_days), keep_flagged=True))
    return passes


def record_cutoff(*, record_days: int, now: datetime) -> datetime:
    return now - timedelta(days=record_days)


def pass_start(progress: dict, name: str, earliest: datetime | None) -> datetime | None:
    """Where a pass starts: a day before where the last run stopped (a span may arrive late, with an older start
    time), else at the project's earliest trace; None when there is nothing at all."""
    done = progress.get(name)
    if done:
        return datetime.fromisoformat(done) - timedelta(days=1)
    return earliest


def day_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at UTC midnights: each window lies in one partition (partitions start at midnight)."""
    out = []
    lo = start
    while lo < end:
        hi = min(end, datetime(lo.year, lo.month, lo.day, tzinfo=UTC) + timedelta(days=1))
        out.append((lo, hi))
        lo = hi
    return out


def id_windows(lo: int | None, hi: int | None, size: int) -> list[tuple[int, int]]:
    """[lo, hi] in half-open windows of ``size`` ids: each batch an index range, never a rescan from the start."""
    if lo is None or hi is None:
        return []
    return [(a, min(a + size, hi + 1)) for a in range(lo, hi + 1, size)]


# --- Partitions of traces_span (PostgreSQL) ---

# Weekly: see docs/architecture.md "Retention" for the measurement (queries by trace id visit every partition).
PARTITION_DAYS = 7
# Partitions start on a Monday, 00:00 UTC.
PARTITION_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
PARTITIONS_AHEAD = 4  # partitions kept ready past the current one (beat runs daily)
SPAN_TABLE = "traces_span"
DEFAULT_PARTITION = "traces_span_default"


def partition_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The partition range [lo, hi) holding time ``at``."""
    size = timedelta(days=PARTITION_DAYS)
    k = (at - PARTITION_ORIGIN) // size
    lo = PARTITION_ORIGIN + k * size
    return lo, lo + size


def partition_name(lo: datetime) -> str:
    return f"{SPAN_TABLE}_p{lo:%Y%m%d}"


def partitions_between(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """(name, lo, hi) of every partition from the one holding ``start`` to the one holding ``end``."""
    out = []
    lo, hi = partition_bounds(start)
    while lo <= end:
        out.append((partition_name(lo), lo, hi))
        lo, hi = hi, hi + timedelta(days=PARTITION_DAYS)
    return out


def partitions_wanted(now: datetime) -> list[tuple[str, datetime, datetime]]:
    """The current partition and PARTITIONS_AHEAD after it."""
    return partitions_between(now, now + timedelta(days=PARTITION_DAYS * PARTITIONS_AHEAD))


def partitions_expired(partitions: list[tuple[str, datetime, datetime]], cutoff: datetime) -> list[str]:
    """The partitions whose whole range lies before ``cutoff``: dropped, not deleted from."""
    return [name for name, _, hi in partitions if hi <= cutoff]
