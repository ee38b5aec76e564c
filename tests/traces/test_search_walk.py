"""A search read newest first (the trace list's page, its bounded count) walks the newest traces instead of
collecting every match (traces.search.traces_newest): it finds exactly the traces the set of every match gives.

PostgreSQL walks only for words neither rare nor very common; here the walk is forced on whichever database the
session uses, with tiny windows so that both of its steps (windows of traces, then week by week) run.
"""

import dataclasses
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.base import make_project
from traces import search, selectors
from traces.models import Span, Trace
from traces.selectors import TraceFilters

pytestmark = pytest.mark.django_db

QUERIES = ["umbrella", '"pack an umbrella"', "pack umbrella", "zeppelin", "umbrella needed"]


def _add(project, i: int, start, texts: list[str], **span) -> Trace:
    trace = Trace.objects.create(project=project, trace_id=f"{project.pk:04x}{i:028x}", name=f"t{i}", start_time=start)
    Span.objects.bulk_create(
        [
            Span(project=project, trace=trace, span_id=f"{i:08x}{k:08x}", name="chat",
                 start_time=start + timedelta(seconds=k), input_text=text, **span)
            for k, text in enumerate(texts)
        ]
    )  # fmt: skip
    return trace


@pytest.fixture
def spread(project):
    """60 traces, one every 10 hours (four weeks), with the matches spread among them; the oldest trace has a
    match starting 24 days after it (a span in a newer week than its trace); another project's and an internal
    span match everything."""
    now = timezone.now()
    for i in range(60):
        texts = ["What is the capital of France?"]
        if i % 3 == 0:
            texts.append("Should I pack an umbrella? None needed.")
        elif i % 5 == 0:
            texts.append("An umbrella? No need to pack one.")
        _add(project, i, now - timedelta(hours=10 * i), texts)
    oldest = Trace.objects.get(project=project, name="t59")
    Span.objects.create(
        project=project, trace=oldest, span_id="ffff0000ffff0000", name="late", input_text="pack an umbrella",
        start_time=oldest.start_time + timedelta(days=24),
    )  # fmt: skip
    _add(project, 99, now, ["pack an umbrella zeppelin needed"], is_internal=True)
    other, _ = make_project("other")
    _add(other, 0, now, ["pack an umbrella zeppelin needed"])


def listed(project, q: str, *, limit: int) -> list[str]:
    """Every page of the list, newest first, through its cursors."""
    out, cursor = [], ""
    while True:
        page = selectors.trace_page(project=project, filters=TraceFilters(search=q), cursor=cursor, limit=limit)
        out += [t.trace_id for t in page.items]
        if not page.next_cursor:
            return out
        cursor = page.next_cursor


def everything(project, q: str) -> list[str]:
    """The set of every match (traces_filtered), newest first."""
    qs = selectors.traces_filtered(project=project, filters=TraceFilters(search=q))
    return list(qs.order_by("-start_time", "-pk").values_list("trace_id", flat=True))


@pytest.mark.parametrize(("first", "upto"), [(1, 10_000), (1, 2)], ids=["windows", "weeks"])
def test_the_walk_lists_and_counts_exactly_the_traces_the_set_of_every_match_gives(
    project, spread, monkeypatch, first, upto
):
    expected = {q: everything(project, q) for q in QUERIES}
    assert len(expected["umbrella"]) == 29  # 20 with the phrase, 8 with the words apart, the oldest
    assert expected['"pack an umbrella"'][-1] == f"{project.pk:04x}{59:028x}"  # its match is 24 days later
    assert expected["zeppelin"] == []

    real = search._matching
    monkeypatch.setattr(search, "_matching", lambda *a: dataclasses.replace(real(*a), how="walk"))
    monkeypatch.setattr(search, "WALK_FIRST", first)
    monkeypatch.setattr(search, "WALK_WINDOWS_UPTO", upto)
    for q in QUERIES:
        assert listed(project, q, limit=3) == expected[q], q
        assert listed(project, q, limit=50) == expected[q], q
        n = len(expected[q])
        assert selectors.traces_count(project=project, filters=TraceFilters(search=q), bound=25) == (
            min(n, 25),
            n > 25,
        ), q


def test_the_walk_keeps_the_other_filters(project, spread, monkeypatch):
    Trace.objects.filter(project=project, name__in=["t0", "t3", "t6"]).update(environment="production")
    real = search._matching
    monkeypatch.setattr(search, "_matching", lambda *a: dataclasses.replace(real(*a), how="walk"))
    filters = TraceFilters(search="umbrella", environment="production")
    page = selectors.trace_page(project=project, filters=filters, limit=2)
    assert [t.name for t in page.items] == ["t0", "t3"]
    assert selectors.traces_count(project=project, filters=filters) == (3, False)


def test_the_next_window_follows_the_rate_found_and_stops_at_the_walk_s_limit():
    upto = search.WALK_WINDOWS_UPTO
    assert search.next_window(need=51, found=0, walked=0, last=0) == 256 >= search.WALK_FIRST
    assert search.next_window(need=501, found=0, walked=0, last=0) == 2004
    # 10 of 51 found in 256 traces: 41 more at that rate, a quarter more.
    assert search.next_window(need=51, found=10, walked=256, last=256) == 1312
    assert search.next_window(need=51, found=50, walked=256, last=256) == 256  # never smaller than the last
    assert search.next_window(need=51, found=0, walked=256, last=256) == 2048  # nothing yet: 8 times
    assert search.next_window(need=501, found=1, walked=2004, last=2004) == 0  # past the limit: week by week
    assert search.next_window(need=10**6, found=0, walked=0, last=0) == upto


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_planner_settings_hold_inside_and_are_restored_after_even_on_an_error():
    def setting(name):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s)", [name])
            return cursor.fetchone()[0]

    before = setting("enable_indexscan"), setting("jit")
    with search.planner(enable_indexscan="off"):
        assert setting("enable_indexscan") == "off"
        with search.planner():
            assert setting("jit") == "off"
            assert setting("max_parallel_workers_per_gather") == "0"
        assert setting("jit") == before[1]
    assert (setting("enable_indexscan"), setting("jit")) == before
    with pytest.raises(ZeroDivisionError), transaction.atomic(), search.planner(enable_indexscan="off"):
        1 / 0  # noqa: B018
    assert setting("enable_indexscan") == before[0]


@pytest.mark.laptop
@pytest.mark.skipif("connection.vendor != 'sqlite'")
@pytest.mark.parametrize(("chunk", "walk_from"), [(1, 10**6), (3, 10**6), (1_000, 10**6), (1_000, -1)])
def test_sqlite_counts_a_common_words_traces_from_the_fts_rowids_with_the_other_filters(
    project, spread, monkeypatch, chunk, walk_from
):
    monkeypatch.setattr(search, "FTS_SET_LIMIT", -1)  # every query counts as a common word: the "rows" path
    monkeypatch.setattr(search, "FTS_COUNT_CHUNK", chunk)  # the rowids a chunk at a time...
    monkeypatch.setattr(search, "FTS_COUNT_WALK_FROM", walk_from)  # ... or (-1) a very common word: the walk
    recent = timezone.now() - timedelta(days=7)
    for q in QUERIES:
        for filters in (TraceFilters(search=q), TraceFilters(search=q, start_after=recent)):
            n = len(list(selectors.traces_filtered(project=project, filters=filters)))
            for bound in (5, 25, 100):
                assert selectors.traces_count(project=project, filters=filters, bound=bound) == (
                    min(n, bound),
                    n > bound,
                ), (q, filters.start_after, bound)
