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
    pages, before = [], None
    while True:
        page = selectors.sessions_page(project=project, limit=limit, before=before)
        if not page:
            return pages
        pages.append(page)
        before = page[-1]["last"]


def grouped_pages(project, limit):
    qs = Trace.objects.filter(project=project, is_internal=False).exclude(session_id="")
    pages, before = [], None
    while page := selectors._sessions_grouped(qs, limit=limit, before=before):
        pages.append(page)
        before = page[-1]["last"]
    return pages


def test_a_session_active_again_later_is_listed_once_at_its_last_activity(project, monkeypatch):
    monkeypatch.setattr(selectors, "SESSION_WALK_CHUNK", 1)  # every step of the walk reads one trace
    now = time.time()
    make_trace(project, n_llm=0, start=now - 300, attributes={"session.id": "a"})
    make_trace(project, n_llm=0, start=now - 200, attributes={"session.id": "b"})
    make_trace(project, n_llm=0, start=now - 100, attributes={"session.id": "a"})
    make_trace(project, n_llm=0, start=now - 50)  # no session

    first = selectors.sessions_page(project=project, limit=1)
    second = selectors.sessions_page(project=project, limit=1, before=first[0]["last"])
    third = selectors.sessions_page(project=project, limit=1, before=second[0]["last"])

    assert ids(first) == ["a"] and first[0]["traces"] == 2
    assert ids(second) == ["b"]
    assert third == [], "a's older trace does not bring it back on a later page"


@pytest.mark.parametrize("chunk, max_steps", [(1000, 20), (7, 20), (7, 1)])
def test_the_walk_pages_exactly_like_grouping_every_trace(project, monkeypatch, chunk, max_steps):
    """Chunks of 7 make the walk take many steps; one step of 7 gives up and groups everything instead."""
    monkeypatch.setattr(selectors, "SESSION_WALK_CHUNK", chunk)
    monkeypatch.setattr(selectors, "SESSION_WALK_MAX", max_steps)
    rng = random.Random(7)
    now = time.time()
    for i in range(120):
        session = f"s{rng.randrange(25):02d}" if rng.random() < 0.7 else ""
        make_trace(project, n_llm=0, start=now - 10_000 + i * 10, attributes={"session.id": session} if session else {})

    walked = all_pages(project, limit=4)

    assert [ids(p) for p in walked] == [ids(p) for p in grouped_pages(project, limit=4)]
    assert sum(len(p) for p in walked) == len({s for s in Trace.objects.values_list("session_id", flat=True) if s})
