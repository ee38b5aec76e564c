"""Waterfall layout of a trace: span order, nesting depth and bar geometry on one shared time axis.

Pure: it takes span-like objects (anything with span_id, parent_span_id, start_time, end_time) and returns
plain data, so it is tested without a database and a 5,000-span trace costs one pass over the spans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

MIN_WIDTH_PCT = 0.5  # a 1 µs span inside a 10 s trace still needs a visible bar
LABEL_ROOM_PCT = 62.0  # a bar ending before this has room for its label after it


class SpanLike(Protocol):
    span_id: str
    parent_span_id: str
    start_time: datetime
    end_time: datetime | None


@dataclass
class Row:
    span: Any
    depth: int
    left: float  # % of the trace's duration from the trace start
    width: float  # % of the trace's duration, at least MIN_WIDTH_PCT
    offset_ms: float  # from the trace start
    children: int = 0  # direct children, for the collapse caret
    is_open: bool = False  # no end time yet: the bar runs to the end of the trace

    @property
    def end(self) -> float:
        return round(self.left + self.width, 3)

    @property
    def right(self) -> float:
        """% from the track's right edge to the bar's start, to hang a label before the bar."""
        return round(100 - self.left, 3)

    @property
    def after_room(self) -> float:
        """% of the track after the bar's end: the most an "after" label may take (it is cut with an ellipsis)."""
        return round(100 - self.end, 3)

    @property
    def label_at(self) -> str:
        """Where the bar's label (duration, model, tokens, cost) fits: "after", "before" or "inside" the bar."""
        if self.end <= LABEL_ROOM_PCT:
            return "after"
        if self.left >= 100 - LABEL_ROOM_PCT:
            return "before"
        return "inside"  # a long bar leaves room on neither side


@dataclass
class Tick:
    left: float  # %
    label: str


@dataclass
class Waterfall:
    rows: list[Row] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    narrow_ticks: list[Tick] = field(default_factory=list)  # the axis when its column is narrow (CSS picks)
    start: datetime | None = None
    total_ms: float = 0.0


def format_ms(ms: float | None) -> str:
    """A duration people read at a glance: 0.42 ms, 12 ms, 1.25 s, 2m 05s."""
    if ms is None:
        return "—"
    if ms == 0:
        return "0 ms"
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# Steps a clock reads well: 1-2-5 below a second, then whole seconds, minutes and hours.
_CLOCK_STEPS = (
    *(1000 * x for x in (1, 2, 5, 10, 15, 30)),
    *(60_000 * x for x in (1, 2, 5, 10, 15, 30)),
    *(3_600_000 * x for x in (1, 2, 3, 6, 12, 24)),
)


def _nice_step(total_ms: float, target_ticks: int = 5) -> float:
    raw = total_ms / target_ticks
    if raw <= 500:
        magnitude = 10 ** math.floor(math.log10(raw))
        for factor in (1, 2, 5, 10):
            if factor * magnitude >= raw:
                return factor * magnitude
    for step in _CLOCK_STEPS:
        if step >= raw:
            return step
    return 86_400_000 * math.ceil(raw / 86_400_000)


def _tick_label(ms: float, step: float) -> str:
    """Compact axis labels: 0, 250 ms, 1.5 s, 2 min; the step picks the unit so all ticks share it."""
    if ms == 0:
        return "0"
    if step >= 3_600_000:
        return f"{round(ms / 3_600_000, 6):g} h"
    if step >= 60_000:
        return f"{round(ms / 60_000, 6):g} min"
    if step >= 1000:
        return f"{round(ms / 1000, 6):g} s"
    return f"{round(ms, 6):g} ms"


def ticks_for(total_ms: float, target_ticks: int = 5) -> list[Tick]:
    """Round-numbered ticks (1, 2 or 5 × 10^k ms) from 0 to the trace's end."""
    if total_ms <= 0:
        return [Tick(left=0.0, label="0")]
    step = _nice_step(total_ms, target_ticks)
    ticks = []
    i = 0
    while i * step <= total_ms * (1 + 1e-9):
        ticks.append(Tick(left=round(min(i * step / total_ms * 100, 100.0), 3), label=_tick_label(i * step, step)))
        i += 1
    return ticks


def _ms(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() * 1000


def depth_first(spans: Sequence[SpanLike]) -> list[tuple[SpanLike, int, int]]:
    """(span, depth, direct children) in depth-first order, siblings by start time.

    Spans whose parent is missing (not arrived, or in another service) are roots. Iterative, so a
    10,000-deep chain cannot hit the recursion limit; a parent cycle (bad data) is broken, not looped.
    """
    ids = {s.span_id for s in spans}
    children: dict[str, list[SpanLike]] = {}
    roots: list[SpanLike] = []
    for s in spans:
        parent = s.parent_span_id
        if parent and parent in ids and parent != s.span_id:
            children.setdefault(parent, []).append(s)
        else:
            roots.append(s)
    # sorted() is stable: equal start times keep the caller's order.
    for kids in children.values():
        kids.sort(key=lambda s: s.start_time)
    roots.sort(key=lambda s: s.start_time)

    ordered: list[tuple[SpanLike, int, int]] = []
    seen: set[str] = set()

    def walk(root: SpanLike) -> None:
        stack = [(root, 0)]
        while stack:
            span, depth = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            kids = children.get(span.span_id, [])
            ordered.append((span, depth, len(kids)))
            stack.extend((kid, depth + 1) for kid in reversed(kids))

    for root in roots:
        walk(root)
    if len(seen) < len(ids):  # only spans caught in a parent cycle are left: show them at the root level
        for s in sorted((s for s in spans if s.span_id not in seen), key=lambda s: s.start_time):
            walk(s)
    return ordered


def layout(spans: Sequence[SpanLike], *, min_width: float = MIN_WIDTH_PCT) -> Waterfall:
    """Rows in depth-first order with their bar's left/width in % of the trace's duration, and axis ticks."""
    if not spans:
        return Waterfall()
    start = min(s.start_time for s in spans)
    end = max(max(s.end_time or s.start_time, s.start_time) for s in spans)
    total = _ms(end, start)

    rows = []
    for span, depth, n_children in depth_first(spans):
        offset = _ms(span.start_time, start)
        span_end = span.end_time or end
        duration = max(_ms(span_end, span.start_time), 0.0)
        if total > 0:
            left = offset / total * 100
            width = duration / total * 100
        else:  # every span is instantaneous and simultaneous
            left, width = 0.0, 0.0
        width = max(width, min_width)
        if left + width > 100:  # a minimum-width bar at the very end stays inside the track
            left = max(100 - width, 0.0)
        rows.append(
            Row(
                span=span,
                depth=depth,
                left=round(left, 3),
                width=round(min(width, 100.0), 3),
                offset_ms=offset,
                children=n_children,
                is_open=span.end_time is None,
            )
        )
    return Waterfall(rows=rows, ticks=ticks_for(total), narrow_ticks=ticks_for(total, 2), start=start, total_ms=total)


def rows_data(waterfall: Waterfall, badges: dict) -> dict:
    """Every row as plain lists for the virtualised waterfall (static/js/waterfall.js draws only the rows in view):
    [span id, depth, left %, width %, kind, name, error, children, open, label]; badges by span id as
    [css, text, title, row class]. About 100 bytes a row: a 5,000-span trace is ~0.5 MB of JSON, parsed once."""
    from traces.templatetags.explorer import tokens, usd

    rows = []
    for row in waterfall.rows:
        s = row.span
        label = format_ms(s.duration_ms)
        if s.model:
            label += f" · {s.model}"
        if s.total_tokens:
            label += f" · {tokens(s.total_tokens)} tok"
        if s.cost:
            label += f" · {usd(s.cost)}"
        rows.append(
            [s.span_id, row.depth, row.left, row.width, s.kind, s.name, int(s.status == "error"), row.children,
             int(row.is_open), label]
        )  # fmt: skip
    marks = {
        span_id: [[b.css, b.text, b.title, b.row_class] for b in found] for span_id, found in badges.items() if found
    }
    return {"rows": rows, "badges": marks}
