"""traces.waterfall: order, depth and bar geometry, without a database."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from traces.waterfall import MIN_WIDTH_PCT, format_ms, layout, ticks_for

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@dataclass
class S:
    span_id: str
    parent_span_id: str = ""
    start_ms: float = 0.0
    duration_ms: float | None = 10.0

    @property
    def start_time(self) -> datetime:
        return T0 + timedelta(milliseconds=self.start_ms)

    @property
    def end_time(self) -> datetime | None:
        if self.duration_ms is None:
            return None
        return self.start_time + timedelta(milliseconds=self.duration_ms)


def ids(wf):
    return [r.span.span_id for r in wf.rows]


def test_it_orders_depth_first_with_children_by_start_time():
    spans = [
        S("root", start_ms=0, duration_ms=1000),
        S("b", "root", start_ms=500, duration_ms=100),
        S("a", "root", start_ms=100, duration_ms=300),
        S("a2", "a", start_ms=250, duration_ms=10),
        S("a1", "a", start_ms=150, duration_ms=10),
    ]
    wf = layout(spans)
    assert ids(wf) == ["root", "a", "a1", "a2", "b"]
    assert [r.depth for r in wf.rows] == [0, 1, 2, 2, 1]
    assert [r.children for r in wf.rows] == [2, 2, 0, 0, 0]


def test_it_puts_orphans_at_the_root_level_in_start_order():
    spans = [
        S("root", start_ms=0, duration_ms=100),
        S("orphan", "missing-parent", start_ms=50, duration_ms=10),
        S("child", "root", start_ms=10, duration_ms=10),
        S("early-orphan", "also-missing", start_ms=-5, duration_ms=1),
    ]
    wf = layout(spans)
    assert ids(wf) == ["early-orphan", "root", "child", "orphan"]
    assert [r.depth for r in wf.rows] == [0, 0, 1, 0]


def test_bars_sit_on_one_time_axis():
    spans = [
        S("root", start_ms=0, duration_ms=1000),
        S("half", "root", start_ms=500, duration_ms=250),
    ]
    wf = layout(spans)
    root, half = wf.rows
    assert wf.total_ms == 1000
    assert (root.left, root.width) == (0.0, 100.0)
    assert (half.left, half.width) == (50.0, 25.0)
    assert half.offset_ms == 500


def test_a_tiny_span_still_gets_a_visible_bar_inside_the_track():
    spans = [
        S("root", start_ms=0, duration_ms=10_000),
        S("tiny", "root", start_ms=5000, duration_ms=0.001),
        S("last", "root", start_ms=10_000, duration_ms=0),
    ]
    wf = layout(spans)
    tiny, last = wf.rows[1], wf.rows[2]
    assert tiny.width == MIN_WIDTH_PCT
    assert tiny.left == 50.0
    assert last.left + last.width <= 100.0
    assert last.width == MIN_WIDTH_PCT


def test_an_open_span_runs_to_the_end_of_the_trace():
    spans = [S("root", start_ms=0, duration_ms=None), S("child", "root", start_ms=0, duration_ms=400)]
    wf = layout(spans)
    root = wf.rows[0]
    assert root.is_open
    assert root.width == 100.0
    assert wf.total_ms == 400


def test_a_trace_of_simultaneous_instant_spans_does_not_divide_by_zero():
    wf = layout([S("a", duration_ms=0), S("b", "a", duration_ms=0)])
    assert [(r.left, r.width) for r in wf.rows] == [(0.0, MIN_WIDTH_PCT), (0.0, MIN_WIDTH_PCT)]
    assert wf.ticks[0].label == "0"


def test_a_very_deep_chain_does_not_hit_the_recursion_limit():
    spans = [S("s0", start_ms=0, duration_ms=20_000)]
    spans += [S(f"s{i}", f"s{i - 1}", start_ms=i, duration_ms=1) for i in range(1, 5000)]
    wf = layout(list(reversed(spans)))
    assert ids(wf) == [f"s{i}" for i in range(5000)]
    assert wf.rows[-1].depth == 4999


def test_a_parent_cycle_is_shown_not_lost():
    spans = [S("root"), S("x", "y", start_ms=1), S("y", "x", start_ms=2)]
    wf = layout(spans)
    assert sorted(ids(wf)) == ["root", "x", "y"]


def test_empty_trace():
    wf = layout([])
    assert wf.rows == [] and wf.ticks == [] and wf.total_ms == 0


def test_ticks_are_round_numbers_across_the_trace():
    ticks = ticks_for(1000)
    assert [t.label for t in ticks] == ["0", "200 ms", "400 ms", "600 ms", "800 ms", "1000 ms"]
    assert [t.left for t in ticks] == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert [t.label for t in ticks_for(7300)] == ["0", "2 s", "4 s", "6 s"]
    assert [t.label for t in ticks_for(2.5)][:3] == ["0", "0.5 ms", "1 ms"]
    assert [t.label for t in ticks_for(600_000)][:2] == ["0", "2 min"]
    assert [t.label for t in ticks_for(70_000)][:3] == ["0", "15 s", "30 s"]
    assert [t.label for t in ticks_for(4 * 3_600_000)][:2] == ["0", "1 h"]
    assert len(ticks_for(3 * 86_400_000 * 7)) <= 7


def test_a_bar_label_goes_where_there_is_room():
    wf = layout([S("root", duration_ms=1000), S("early", "root", 0, 100), S("late", "root", 800, 150)])
    root, early, late = wf.rows
    assert early.label_at == "after" and early.end == 10.0 and early.after_room == 90.0
    assert late.label_at == "before" and late.right == 20.0
    assert root.label_at == "inside"


def test_format_ms():
    assert format_ms(None) == "—"
    assert format_ms(0) == "0 ms"
    assert format_ms(0.42) == "0.42 ms"
    assert format_ms(3.25) == "3.2 ms"
    assert format_ms(123.4) == "123 ms"
    assert format_ms(1250) == "1.25 s"
    assert format_ms(42_000) == "42.0 s"
    assert format_ms(125_000) == "2m 05s"
    assert format_ms(2 * 3600_000 + 60_000) == "2h 01m"
