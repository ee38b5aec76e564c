"""The trace page /p/<id>/traces/<trace_id>: header, waterfall, the span opened by default, big traces."""

import re
import time

import pytest
from django.urls import reverse

from tests.base import hex_id, llm_attributes, make_project, make_raw_span, make_trace, user_token, wide_trace_raws
from traces.models import Span, Trace
from traces.services import spans_ingest


def trace_url(project, trace_id, **params):
    from urllib.parse import urlencode

    url = reverse("traces:trace_detail", args=[project.pk, trace_id])
    return url + ("?" + urlencode(params) if params else "")


def row_ids(html: str) -> list[str]:
    return re.findall(r'<a class="wf-row[^"]*" href="\?span=([0-9a-f]+)"', html)


def open_span(html: str) -> str:
    found = re.search(r'class="span-detail" data-span="([0-9a-f]+)"', html)
    return found.group(1) if found else ""


@pytest.fixture
def agent_trace(project):
    """root → plan (llm), search (retriever) → rerank, answer (llm, failed); plus an orphan."""
    t0 = time.time() - 120
    tid = hex_id(16)
    root = make_raw_span(
        trace_id=tid,
        name="agent run",
        start=t0,
        duration=4.0,
        attributes={"openinference.span.kind": "AGENT", "session.id": "chat-42", "user.id": "bob"},
        service="support-bot",
    )
    plan = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="plan",
        start=t0 + 0.1,
        duration=1.0,
        kind=3,
        attributes=llm_attributes(),
    )
    search = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="search docs",
        start=t0 + 1.2,
        duration=0.5,
        attributes={"openinference.span.kind": "RETRIEVER", "retrieval.documents.0.document.content": "Paris"},
    )
    rerank = make_raw_span(trace_id=tid, parent_span_id=search.span_id, name="rerank", start=t0 + 1.3, duration=0.1)
    answer = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="answer",
        start=t0 + 2.0,
        duration=1.5,
        kind=3,
        attributes=llm_attributes(),
        status_code=2,
        status_message="RateLimitError: slow down",
    )
    orphan = make_raw_span(trace_id=tid, parent_span_id=hex_id(8), name="late orphan", start=t0 + 3.0, duration=0.2)
    spans_ingest(project=project, raws=[root, plan, search, rerank, answer, orphan])
    return {
        "trace_id": tid,
        "root": root,
        "plan": plan,
        "search": search,
        "rerank": rerank,
        "answer": answer,
        "orphan": orphan,
    }


def test_it_shows_the_trace_aggregates(owner_client, project, agent_trace):
    response = owner_client.get(trace_url(project, agent_trace["trace_id"]))
    assert response.status_code == 200
    html = response.content.decode()
    trace = Trace.objects.get(trace_id=agent_trace["trace_id"])
    assert "agent run" in html
    assert '<span class="badge err">error</span>' in html
    assert f"{trace.total_tokens:,}" in html
    assert "support-bot" in html and user_token(project, "bob") in html  # hashed at ingest
    assert reverse("traces:session_detail", args=[project.pk, "chat-42"]) in html
    assert "<dt>Spans</dt><dd>6</dd>" in html


def test_the_waterfall_nests_spans_depth_first_with_orphans_at_the_root(owner_client, project, agent_trace):
    html = owner_client.get(trace_url(project, agent_trace["trace_id"])).content.decode()
    t = agent_trace
    assert row_ids(html) == [
        s.span_id for s in (t["root"], t["plan"], t["search"], t["rerank"], t["answer"], t["orphan"])
    ]
    depths = re.findall(r'data-d="(\d+)"', html)
    assert depths == ["0", "1", "1", "2", "1", "0"]
    # Carets only on spans with children; the failed span is marked.
    assert html.count('class="caret"') == 2
    assert re.search(rf'class="wf-row k-llm err" href="\?span={t["answer"].span_id}"', html)
    # Bars on one axis: the root spans 0..4 s of the 4 s trace; "answer" starts at 2 s.
    assert 'style="left:0.0%;width:100.0%"' in html
    assert re.search(r'style="left:50\.0%;width:37\.5%"', html)
    assert '<span class="tick" style="left:0.0%">0</span>' in html


def test_the_root_span_detail_opens_by_default(owner_client, project, agent_trace):
    html = owner_client.get(trace_url(project, agent_trace["trace_id"])).content.decode()
    assert open_span(html) == agent_trace["root"].span_id
    assert re.search(rf'class="wf-row k-agent sel" href="\?span={agent_trace["root"].span_id}"', html)


def test_span_in_the_query_string_opens_that_span(owner_client, project, agent_trace):
    answer = agent_trace["answer"]
    html = owner_client.get(trace_url(project, agent_trace["trace_id"], span=answer.span_id)).content.decode()
    assert open_span(html) == answer.span_id
    assert "RateLimitError: slow down" in html
    # Each row links to the page with its span open, and fetches the bare panel over htmx.
    span_url = reverse("traces:span_detail", args=[project.pk, agent_trace["trace_id"], answer.span_id])
    assert f'href="?span={answer.span_id}" hx-get="{span_url}"' in html
    assert 'hx-target="#span-panel"' in html


def test_a_span_of_another_trace_or_project_is_404(owner_client, project, agent_trace, other_project_and_key):
    _, other_spans = make_trace(project)
    response = owner_client.get(trace_url(project, agent_trace["trace_id"], span=other_spans[1].span_id))
    assert response.status_code == 404
    other_project, _ = other_project_and_key
    _, foreign = make_trace(other_project)
    assert owner_client.get(trace_url(project, agent_trace["trace_id"], span=foreign[0].span_id)).status_code == 404


def test_a_trace_whose_root_has_not_arrived_opens_its_first_span(owner_client, project):
    tid = hex_id(16)
    spans_ingest(project=project, raws=[make_raw_span(trace_id=tid, parent_span_id=hex_id(8), name="child only")])
    html = owner_client.get(trace_url(project, tid)).content.decode()
    assert "child only" in html
    assert open_span(html) == Span.objects.get(name="child only").span_id


def test_unknown_trace_is_404(owner_client, project):
    assert owner_client.get(trace_url(project, hex_id(16))).status_code == 404


def test_outsiders_get_404_on_the_trace_page_and_its_partials(client, outsider, project, agent_trace):
    client.force_login(outsider)
    tid = agent_trace["trace_id"]
    assert client.get(trace_url(project, tid)).status_code == 404
    assert client.get(trace_url(project, tid, span=agent_trace["plan"].span_id)).status_code == 404
    waterfall = reverse("traces:waterfall_rows", args=[project.pk, tid]) + "?offset=0"
    assert client.get(waterfall, headers={"HX-Request": "true"}).status_code == 404


def test_another_projects_trace_id_is_404_under_my_project(owner_client, project, other_project_and_key):
    other_project, _ = other_project_and_key
    foreign_tid, _ = make_trace(other_project)
    assert owner_client.get(trace_url(project, foreign_tid)).status_code == 404
    assert owner_client.get(trace_url(other_project, foreign_tid)).status_code == 404


def test_a_span_name_with_markup_is_escaped(owner_client, project):
    tid, _ = make_trace(project, name="<img src=x onerror=alert(1)>")
    html = owner_client.get(trace_url(project, tid)).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.fixture
def big_trace(project):
    """tests.base.wide_trace_raws: 5,000 spans."""
    tid = hex_id(16)
    spans_ingest(project=project, raws=wide_trace_raws(tid))
    return tid


def test_a_5000_span_trace_renders_100_rows_and_the_next_partials_give_the_rest(
    owner_client, project, big_trace, django_assert_max_num_queries
):
    # session, user, membership, trace, its spans, the open span, the audit row, the project switcher.
    with django_assert_max_num_queries(8):
        response = owner_client.get(trace_url(project, big_trace))
    html = response.content.decode()
    first = row_ids(html)
    assert len(first) == 100  # for a browser without JS; waterfall.js draws every row from the page's data
    assert "4900 not shown" in html
    waterfall = reverse("traces:waterfall_rows", args=[project.pk, big_trace])
    assert f'hx-get="{waterfall}?offset=100"' in html
    assert 'href="?rows=600"' in html  # without JS: the same page with more rows

    seen = list(first)
    offset = 100
    while True:
        with django_assert_max_num_queries(6):
            part = owner_client.get(f"{waterfall}?offset={offset}", headers={"HX-Request": "true"})
        part_html = part.content.decode()
        assert "<html" not in part_html
        rows = row_ids(part_html)
        assert 0 < len(rows) <= 500
        seen += rows
        match = re.search(r"\?offset=(\d+)", part_html)
        if not match:
            break
        offset = int(match.group(1))
    assert len(seen) == 5000 == len(set(seen))
    assert seen[0] == Trace.objects.get(trace_id=big_trace).root_span_id
    # Depth-first: step 0 is followed by its 99 items before step 1.
    names = dict(Span.objects.filter(trace__trace_id=big_trace).values_list("span_id", "name"))
    assert [names[s] for s in seen[1:3]] == ["step 0", "item 0.0"]
    assert names[seen[101]] == "step 1"


def test_without_js_more_rows_are_a_query_parameter(owner_client, project, big_trace):
    html = owner_client.get(trace_url(project, big_trace, rows=600)).content.decode()
    assert len(row_ids(html)) == 600
    assert "4400 not shown" in html


def test_the_waterfall_row_markup_stays_light(owner_client, project, big_trace):
    html = owner_client.get(trace_url(project, big_trace)).content.decode()
    rows = re.findall(r'<a class="wf-row.*?</a>', html, flags=re.S)
    assert len(rows) == 100
    assert max(len(r) for r in rows) < 1100


def test_a_member_of_both_projects_sees_each_trace_under_its_own_project(client, owner, project):
    other, _ = make_project("second", owner=owner)
    tid, _ = make_trace(other)
    client.force_login(owner)
    assert client.get(trace_url(other, tid)).status_code == 200
    assert client.get(trace_url(project, tid)).status_code == 404


def test_the_page_carries_every_row_as_data_for_the_virtualised_waterfall(owner_client, project, big_trace):
    import json
    from html import unescape

    html = owner_client.get(trace_url(project, big_trace)).content.decode()
    found = re.search(r'<script id="wf-data" type="application/json">(.*?)</script>', html, flags=re.S)
    data = json.loads(unescape(found.group(1)))
    assert len(data["rows"]) == 5000
    root, step0, item = data["rows"][:3]
    assert root[0] == Trace.objects.get(trace_id=big_trace).root_span_id
    assert (root[1], root[5], root[7]) == (0, "batch job", 50)  # depth, name, children
    assert (step0[1], step0[5], item[1], item[5]) == (1, "step 0", 2, "item 0.0")
    assert item[9].endswith("ms")  # the bar's label: its duration
    assert '<script src="/static/js/waterfall.js' in html
