"""sessions_page: the newest-first walk finds the same sessions, in the same order, as grouping every trace."""

import random
import time

import pytest

from tests.base import make_trace
from traces import selectors
from traces.models import Trace

pytestmark = pytest.mark.django_db


def ids(rows):
    return [r["session_id"] for r in rows]


def all_pages(project, limit):
    pages, before, after = [], None, ""
    while True:
        page = selectors.sessions_page(project=project, limit=limit, before=before, after_session=after)
        if not page:
            return pages
        pages.append(page)
        before, after = page[-1]["last"], page[-1]["session_id"]


def grouped_pages(project, limit):
    qs = Trace.objects.filter(project=project, is_internal=False).exclude(session_id="")
    pages, before, after = [], None, ""
    while page := selectors._sessions_grouped(qs, limit=limit, before=before, after_session=after):
        pages.append(page)
        before, after = page[-1]["last"], page[-1]["session_id"]
    return pages


def test_a_session_active_again_later_is_listed_once_at_its_last_activity(project, monkeypatch):
    monkeypatch.setattr(selectors, "SESSION_WALK_CHUNK", 1)  # every step of the walk reads one trace
    now = time.time()
    make_trace(project, n_llm=0, start=now - 300, attributes={"session.id": "a"})
    make_trace(project, n_llm=0, start=now - 200, attributes={"session.id": "b"})
    make_trace(project, n_llm=0, start=now - 100, attributes={"session.id": "a"})
    make_trace(project, n_llm=0, start=now - 50)  # no session

    first = selectors.sessions_page(project=project, limit=1)
    second = selectors.sessions_page(project=project, limit=1, before=first[0]["last"], after_session="a")
    third = selectors.sessions_page(project=project, limit=1, before=second[0]["last"], after_session="b")

    assert ids(first) == ["a"] and first[0]["traces"] == 2
    assert ids(second) == ["b"]
    assert third == [], "a's older trace does not bring it back on a later page"


def test_sessions_tied_on_last_activity_are_cut_like_the_grouped_order(project, monkeypatch):
    monkeypatch.setattr(selectors, "SESSION_WALK_CHUNK", 1)
    now = time.time()
    make_trace(project, n_llm=0, start=now - 500, attributes={"session.id": "c"})
    make_trace(project, n_llm=0, start=now - 100, attributes={"session.id": "a"})
    make_trace(project, n_llm=0, start=now - 100, attributes={"session.id": "b"})  # newer id, same time

    assert ids(selectors.sessions_page(project=project, limit=1)) == ["a"]
    assert ids(selectors.sessions_page(project=project, limit=2)) == ["a", "b"]
    assert [ids(p) for p in all_pages(project, 1)] == [["a"], ["b"], ["c"]], "no tied session is lost between pages"
    assert [ids(p) for p in grouped_pages(project, 1)] == [["a"], ["b"], ["c"]]


@pytest.mark.parametrize("chunk, max_steps", [(1000, 20), (7, 20), (7, 1)])
def test_the_walk_pages_exactly_like_grouping_every_trace(project, monkeypatch, chunk, max_steps):
    """Chunks of 7 make the walk take many steps; one step of 7 gives up and groups everything instead."""
    monkeypatch.setattr(selectors, "SESSION_WALK_CHUNK", chunk)
    monkeypatch.setattr(selectors, "SESSION_WALK_MAX", max_steps)
    rng = random.Random(7)
    now = time.time()
    for i in range(120):
        session = f"s{rng.randrange(25):02d}" if rng.random() < 0.7 else ""
        start = now - 10_000 + (i // 3) * 10  # three traces to a timestamp: ties between sessions
        make_trace(project, n_llm=0, start=start, attributes={"session.id": session} if session else {})

    walked = all_pages(project, limit=4)

    assert [ids(p) for p in walked] == [ids(p) for p in grouped_pages(project, limit=4)]
    assert sum(len(p) for p in walked) == len({s for s in Trace.objects.values_list("session_id", flat=True) if s})
