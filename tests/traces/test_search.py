"""Full-text search over span content (traces.search): the trace list's `q`, the API's `?q=`, and the snippets.

Runs on the database the session uses (SQLite FTS5 by default; PostgreSQL's GIN index with PEEKR_DATABASE_URL).
"""

import json
import re
import time
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.urls import reverse

from tests.base import hex_id, llm_attributes, make_project, make_raw_span
from traces import retention, search
from traces.models import Span, Trace
from traces.selectors import TraceFilters, traces_filtered
from traces.services import spans_ingest

pytestmark = pytest.mark.django_db


def _trace(project, name: str, children: list[dict], *, start: float, root_attrs: dict | None = None) -> str:
    """A root named `name` (no content of its own) with one child per dict of attributes; returns the trace id."""
    trace_id = hex_id(16)
    root = make_raw_span(trace_id=trace_id, name=name, start=start, duration=3.0, attributes=root_attrs or {})
    spans = [root]
    for i, attrs in enumerate(children):
        child_name = attrs.pop("_name", f"child-{i}")
        spans.append(
            make_raw_span(
                trace_id=trace_id, parent_span_id=root.span_id, name=child_name, start=start + 0.1 + i, attributes=attrs
            )
        )
    spans_ingest(project=project, raws=spans)
    return trace_id


def tool(name: str, arguments: dict, result: str = "ok") -> dict:
    return {
        "_name": f"execute_tool {name}",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.call.arguments": json.dumps(arguments),
        "gen_ai.tool.call.result": result,
    }


def retriever(*contents: str) -> dict:
    attrs = {"_name": "retrieve", "openinference.span.kind": "RETRIEVER", "input.value": "packing list"}
    for i, content in enumerate(contents):
        attrs[f"retrieval.documents.{i}.document.id"] = f"doc-{i}"
        attrs[f"retrieval.documents.{i}.document.content"] = content
    return attrs


def chat(prompt: str, answer: str = "Sure.") -> dict:
    return {"_name": "chat gpt-4o-mini", **llm_attributes(prompt=prompt, answer=answer)}


@pytest.fixture
def corpus(project):
    """Traces where "umbrella" is only inside a message, a tool's arguments or a retrieved document (never in a
    name or a trace-level preview), and traces without it."""
    now = time.time()
    ids = {
        "in-message": _trace(project, "m", [chat("Should I pack an umbrella for Paris this weekend?")], start=now - 50),
        "in-tool-args": _trace(project, "t", [tool("buy_item", {"item": "umbrella", "size": "large"})], start=now - 40),
        "in-document": _trace(
            project, "d", [retriever("Travel tips: a folding umbrella fits any bag.", "Sunscreen.")], start=now - 30
        ),
        "words-not-phrase": _trace(project, "w", [chat("An umbrella? No need to pack one.")], start=now - 20),
        "unrelated": _trace(project, "u", [chat("What is the capital of France?", "Paris.")], start=now - 10),
    }
    return ids


def found(project, q: str, **kw) -> set[str]:
    qs = traces_filtered(project=project, filters=TraceFilters(search=q, **kw))
    return set(qs.values_list("trace_id", flat=True))


def by_id(corpus, *names) -> set[str]:
    return {corpus[n] for n in names}


def test_umbrella_inside_a_message_a_tool_argument_or_a_document_is_found(project, corpus):
    assert found(project, "umbrella") == by_id(corpus, "in-message", "in-tool-args", "in-document", "words-not-phrase")
    # Case does not matter, and every word must occur (in any field of one span).
    assert found(project, "UMBRELLA paris") == by_id(corpus, "in-message")
    assert found(project, "folding bag") == by_id(corpus, "in-document")
    assert found(project, "zeppelin") == set()


def test_a_quoted_phrase_needs_its_words_in_order_words_do_not(project, corpus):
    assert found(project, "pack umbrella") == by_id(corpus, "in-message", "words-not-phrase")
    assert found(project, '"pack an umbrella"') == by_id(corpus, "in-message")
    assert found(project, '"umbrella pack"') == set()
    assert found(project, 'paris "an umbrella"') == by_id(corpus, "in-message")


def test_span_names_tool_names_and_metadata_are_searched(project):
    now = time.time()
    named = _trace(project, "nightly-reconciliation", [], start=now - 30)
    tooled = _trace(project, "x", [tool("lookup_forecast", {"city": "Oslo"})], start=now - 20)
    tagged = _trace(project, "y", [], start=now - 10, root_attrs={"langfuse.trace.metadata.customer": "acme-blue"})
    assert found(project, "reconciliation") == {named}
    assert found(project, "lookup_forecast") == {tooled}
    assert found(project, "oslo") == {tooled}
    assert found(project, "acme-blue") == {tagged}


def test_another_projects_spans_never_match(project, corpus):
    other, _ = make_project("other")
    theirs = _trace(other, "theirs", [chat("Their umbrella, their secret zeppelin.")], start=time.time() - 5)
    assert theirs not in found(project, "umbrella")
    assert found(project, "zeppelin") == set()
    assert found(other, "umbrella") == {theirs}
    trace_pks = list(Trace.objects.filter(trace_id__in=[theirs, corpus["in-message"]]).values_list("pk", flat=True))
    assert set(search.hits(project, "umbrella", trace_pks)) == {Trace.objects.get(trace_id=corpus["in-message"]).pk}


def test_internal_spans_are_not_matched(project):
    trace_id = _trace(
        project, "app", [{**chat("judge this umbrella answer"), "peekr.internal": True}], start=time.time()
    )
    assert Span.objects.filter(trace__trace_id=trace_id, is_internal=True).count() == 1
    assert found(project, "umbrella") == set()


def test_retention_expired_content_is_not_matched(project, corpus):
    spans = Span.objects.filter(trace__trace_id=corpus["in-tool-args"])
    # The statement retention runs (traces.retention_run._expire_window).
    spans.update(**retention.CONTENT_CLEARED, attributes={retention.EXPIRED_MARKER: "2025-01-01T00:00:00+00:00"})
    assert corpus["in-tool-args"] not in found(project, "umbrella")
    assert corpus["in-message"] in found(project, "umbrella")


def test_a_re_sent_span_is_searched_by_its_new_content_and_a_deleted_one_not_at_all(project):
    trace_id, span_id, start = hex_id(16), hex_id(8), time.time() - 30
    first = make_raw_span(trace_id=trace_id, span_id=span_id, name="chat", start=start, attributes=chat("zeppelin"))
    spans_ingest(project=project, raws=[first])
    assert found(project, "zeppelin") == {trace_id}
    again = make_raw_span(trace_id=trace_id, span_id=span_id, name="chat", start=start, attributes=chat("airship"))
    spans_ingest(project=project, raws=[again])
    assert found(project, "zeppelin") == set()
    assert found(project, "airship") == {trace_id}
    Span.objects.filter(span_id=span_id).delete()
    assert found(project, "airship") == set()


def test_a_query_without_a_word_matches_nothing_and_fts_syntax_is_taken_literally(project, corpus):
    assert found(project, '"" !!! *') == set()
    assert found(project, 'umbrella OR "NEAR(') == set()  # "or" and "near" are words here, not operators
    assert found(project, "umbrella*") == found(project, "umbrella")


# --- The trace list and the API ---


def list_url(project, **params):
    return reverse("traces:trace_list", args=[project.pk]) + "?" + urlencode(params)


def test_the_list_shows_each_match_with_a_highlighted_snippet_linking_to_its_span(owner_client, project, corpus):
    html = owner_client.get(list_url(project, q="umbrella")).content.decode()

    rows = re.findall(r'<tr class="trace-row.*?</tr>', html, re.S)
    assert len(rows) == 4
    tool_span = Span.objects.get(trace__trace_id=corpus["in-tool-args"], kind="tool")
    trace_url = reverse("traces:trace_detail", args=[project.pk, corpus["in-tool-args"]])
    link = re.search(
        rf'<a class="search-hit" href="{re.escape(trace_url)}\?span=([0-9a-f]+)"[^>]*>(.*?)</a>', html, re.S
    )
    assert link, "no search hit linking into the tool trace"
    assert link[1] == tool_span.span_id
    assert "tool arguments" in link[2]
    assert "&quot;item&quot;: &quot;<mark>umbrella</mark>&quot;" in link[2]
    doc_row = next(r for r in rows if corpus["in-document"] in r)
    assert "a folding <mark>umbrella</mark> fits any bag" in doc_row
    # The page it links to opens that span.
    page = owner_client.get(f"{trace_url}?span={tool_span.span_id}")
    assert page.status_code == 200


def test_the_snippet_marks_the_phrase(owner_client, project, corpus):
    html = owner_client.get(list_url(project, q='"pack an umbrella"')).content.decode()
    assert "Should I <mark>pack an umbrella</mark> for Paris" in html
    assert html.count('class="trace-row') == 1


def test_the_snippet_escapes_html(owner_client, project):
    _trace(project, "x", [chat("<script>alert(1)</script> umbrella <b>bold</b>")], start=time.time())
    html = owner_client.get(list_url(project, q="umbrella")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>umbrella</mark> &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>alert(1)" not in html


def test_the_api_list_takes_q(client, project, api_key, corpus):
    resp = client.get(
        "/api/v1/traces?" + urlencode({"q": '"pack an umbrella"'}), HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert resp.status_code == 200
    assert [i["trace_id"] for i in resp.json()["items"]] == [corpus["in-message"]]
    resp = client.get("/api/v1/traces?q=umbrella", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert {i["trace_id"] for i in resp.json()["items"]} == by_id(
        corpus, "in-message", "in-tool-args", "in-document", "words-not-phrase"
    )


# --- The index itself ---


@pytest.mark.laptop
@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_triggers_keep_the_fts5_table_in_sync_after_every_migration():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'traces_span'")
        triggers = {row[0] for row in cursor.fetchall()}
    assert {"traces_span_search_ai", "traces_span_search_au", "traces_span_search_ad"} <= triggers


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgres_has_the_gin_index_on_every_span_partition():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "  WHERE x.indrelid = c.oid AND pg_get_indexdef(i.oid) LIKE '%%gin (peekr_span_search(%%') "
            "FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid WHERE h.inhparent = 'traces_span'::regclass"
        )
        rows = cursor.fetchall()
    assert rows and all(has for _, has in rows), [name for name, has in rows if not has]


def test_the_same_traces_are_found_whether_the_matches_are_collected_or_spans_checked_one_by_one(
    project, corpus, monkeypatch
):
    queries = ["umbrella", '"pack an umbrella"', "pack umbrella", "zeppelin"]
    collected = [found(project, q) for q in queries]
    # Every query now counts as "common": the newest traces are walked and their spans checked one by one.
    monkeypatch.setattr(search, "FTS_SET_LIMIT", -1)
    monkeypatch.setattr(search, "PG_SET_LIMIT", -1)
    assert [found(project, q) for q in queries] == collected
    assert collected[0] == by_id(corpus, "in-message", "in-tool-args", "in-document", "words-not-phrase")


# --- Pure parts ---


def test_parse_splits_words_and_quoted_phrases_and_an_open_quote_runs_to_the_end():
    q = search.parse('umbrella "pack an umbrella" paris "rate limit')
    assert q.words == ("umbrella", "paris")
    assert q.phrases == ("pack an umbrella", "rate limit")
    assert search.parse('"" !!').empty
    assert not search.parse("x").empty


def test_a_snippet_is_a_window_around_the_first_match_with_every_match_marked():
    text = "word " * 40 + "Take an Umbrella, the umbrella-stand is full " + "tail " * 60
    patterns = search._patterns(search.parse("umbrella"))
    html = str(search.snippet(text, patterns))
    assert html.startswith("… ") and html.endswith(" …")
    assert "Take an <mark>Umbrella</mark>, the <mark>umbrella</mark>-stand is full" in html
    assert search.snippet("umbrellas only", patterns) is None  # whole words, as the index has them
    assert search.snippet("x <b> umbrella", patterns) == "x &lt;b&gt; <mark>umbrella</mark>"


def test_a_long_traces_match_past_the_spans_read_for_snippets_is_found_through_the_index(project, monkeypatch):
    now = time.time()
    children = [chat(f"filler question {i}") for i in range(11)] + [tool("buy_item", {"item": "umbrella"})]
    trace_id = _trace(project, "long", children, start=now - 60)
    monkeypatch.setattr(search, "READ_SPANS", 4)  # the page is "too big": ids first, then the first 5 per trace
    monkeypatch.setattr(search, "READ_PER_TRACE", 5)
    trace = Trace.objects.get(trace_id=trace_id)
    [hit] = search.hits(project, "umbrella", [trace.pk])[trace.pk]
    assert hit.span_id == Span.objects.get(trace=trace, kind="tool").span_id
    assert "<mark>umbrella</mark>" in hit.snippet
