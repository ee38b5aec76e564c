"""Sorting the trace list by start, duration, cost, tokens and score, with keyset pages on (sort value, id) that
neither repeat nor skip a trace, ties and missing values included (page walk through the API, the selector, and
the page's sortable headers)."""

import re
import time
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tests.base import llm_attributes, make_key, make_raw_span
from traces import extensions, selectors
from traces.models import Trace
from traces.services import spans_ingest

SPECS = [  # (duration s or None for an open trace, input tokens): ties on purpose
    (1.0, 100), (2.0, 100), (2.0, 300), (None, 50), (0.5, 0), (2.0, 300), (3.0, 10), (None, 0), (1.0, 1000),
    (0.5, 100), (4.0, 10), (1.0, 300), (2.0, 0),
]  # fmt: skip


@pytest.fixture
def sortable(project):
    now = time.time()
    raws = []
    for i, (duration, tokens) in enumerate(SPECS):
        root = make_raw_span(name=f"t{i}", start=now - 100 + (i // 2), duration=duration)  # pairs share a start
        raws.append(root)
        if tokens:
            raws.append(make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, name="chat", kind=3,
                                      start=now - 100 + (i // 2), duration=0.1,
                                      attributes=llm_attributes(inp=tokens, out=tokens // 2)))  # fmt: skip
    spans_ingest(project=project, raws=raws)
    return project


def expected(project, key: str, desc: bool) -> list[str]:
    """Every trace in the order the sort promises: by value (missing last either way), then id."""
    column = {"start": "start_time", "duration": "duration_ms", "cost": "cost", "tokens": "total_tokens"}[key]
    rows = list(Trace.objects.filter(project=project).values_list(column, "pk", "name"))
    present = sorted((r for r in rows if r[0] is not None), key=lambda r: (r[0], r[1]), reverse=desc)
    return [r[2] for r in present] + [
        r[2] for r in sorted((r for r in rows if r[0] is None), key=lambda r: r[1], reverse=desc)
    ]


def walk_api(client, key: str, sort: str, limit: int = 3) -> list[str]:
    names, cursor = [], ""
    for _ in range(20):
        params = {"sort": sort, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/traces?" + urlencode(params), headers={"Authorization": f"Bearer {key}"}).json()
        names += [t["name"] for t in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return names
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("sort", ["-start", "start", "-duration", "duration", "-cost", "cost", "-tokens", "tokens"])
def test_pages_follow_each_sort_without_repeating_or_skipping(client, sortable, sort):
    names = walk_api(client, make_key(sortable, scope="read"), sort)
    assert names == expected(sortable, sort.lstrip("-"), sort.startswith("-"))
    assert len(set(names)) == len(SPECS)


def test_a_cursor_made_for_another_sort_starts_over(client, sortable):
    key = make_key(sortable, scope="read")
    first = client.get("/api/v1/traces?sort=-cost&limit=3", headers={"Authorization": f"Bearer {key}"}).json()
    other = client.get(f"/api/v1/traces?sort=duration&limit=3&cursor={first['next_cursor']}",
                       headers={"Authorization": f"Bearer {key}"}).json()  # fmt: skip
    assert [t["name"] for t in other["items"]] == expected(sortable, "duration", False)[:3]


def test_sorting_by_score_puts_the_lowest_first_and_the_unscored_last(sortable):
    from evals.models import Score

    scored = {"t3": 0.9, "t5": 0.1, "t8": 0.5, "t9": 0.5}
    for trace in Trace.objects.filter(project=sortable, name__in=scored):
        Score.objects.create(project=sortable, trace=trace, target_key=f"trace:{trace.pk}", evaluator="pii",
                             status="done", value=scored[trace.name], passed=True)  # fmt: skip
    sorts = extensions.trace_list_sorts()
    assert "score" in sorts  # evals registers it
    names, cursor = [], ""
    while True:
        page = selectors.trace_page(project=sortable, filters=selectors.TraceFilters(), cursor=cursor, limit=2,
                                    sort="score", sorts=sorts)  # fmt: skip
        names += [t.name for t in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    pk = dict(Trace.objects.filter(project=sortable).values_list("name", "pk"))
    t8_t9 = sorted(["t8", "t9"], key=pk.get)
    assert names[:4] == ["t5", *t8_t9, "t3"]
    assert sorted(names[4:], key=pk.get) == names[4:] and len(names) == len(SPECS)


def test_the_page_headers_sort_and_flip(owner_client, sortable):
    url = reverse("traces:trace_list", args=[sortable.pk])
    html = owner_client.get(url).content.decode()
    cost_link = re.search(r'<a href="([^"]+)"[^>]*data-sort="cost"', html).group(1)
    assert cost_link == "?sort=-cost"
    page = owner_client.get(url + cost_link)
    shown = re.findall(r'class="trace-name" href="[^"]+">([^<]+)</a>', page.content.decode())
    assert shown == expected(sortable, "cost", True)
    flipped = re.search(r'<a href="([^"]+)"[^>]*data-sort="cost"', page.content.decode()).group(1)
    assert flipped == "?sort=cost"
    assert "Cost ↓" in page.content.decode()
