"""The span detail partial /p/<id>/traces/<trace_id>/spans/<span_id>: sections, escaping, htmx, access."""

import json
import time

import pytest
from django.urls import reverse

from tests.base import hex_id, llm_attributes, make_raw_span, make_trace
from traces.models import Span
from traces.services import spans_ingest

HTMX = {"HX-Request": "true", "HX-Target": "span-panel"}


def span_url(project, trace_id, span_id):
    return reverse("traces:span_detail", args=[project.pk, trace_id, span_id])


def sections(html: str) -> list[str]:
    import re

    return re.findall(r'data-tab="([a-z]+)"', html)


@pytest.fixture
def rag_trace(project):
    tid = hex_id(16)
    t0 = time.time() - 60
    root = make_raw_span(trace_id=tid, name="rag", start=t0, duration=3.0)
    retriever = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="vector search",
        start=t0 + 0.1,
        duration=0.3,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "input.value": "capital of France",
            "retrieval.documents.0.document.id": "doc-paris",
            "retrieval.documents.0.document.content": "Paris is the capital of France.",
            "retrieval.documents.0.document.score": 0.91,
            "retrieval.documents.0.document.metadata": json.dumps({"source": "wiki/Paris"}),
            "retrieval.documents.1.document.id": "doc-lyon",
            "retrieval.documents.1.document.content": "Lyon is a city in France.",
            "retrieval.documents.1.document.score": 0.42,
        },
    )
    tool = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="get_weather",
        start=t0 + 0.5,
        duration=0.2,
        attributes={
            "openinference.span.kind": "TOOL",
            "tool.name": "get_weather",
            "input.value": '{"city":"Paris","unit":"C"}',
            "output.value": '{"temp": 21}',
        },
    )
    llm = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        kind=3,
        start=t0 + 1.0,
        duration=1.5,
        attributes=llm_attributes(prompt="Weather in <b>Paris</b>?", answer="It is 21 °C."),
    )
    failed = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="post-process",
        start=t0 + 2.6,
        duration=0.1,
        status_code=2,
        status_message="ValueError: no answer <found>",
    )
    spans_ingest(project=project, raws=[root, retriever, tool, llm, failed])
    return {"trace_id": tid, "root": root, "retriever": retriever, "tool": tool, "llm": llm, "failed": failed}


def get(client, project, t, name, **headers):
    return client.get(span_url(project, t["trace_id"], t[name].span_id), headers=headers or HTMX)


def test_htmx_gets_the_panel_only_and_the_page_url_to_push(owner_client, project, rag_trace):
    response = get(owner_client, project, rag_trace, "llm")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "wf-row" not in html
    assert f'data-span="{rag_trace["llm"].span_id}"' in html
    page = reverse("traces:trace_detail", args=[project.pk, rag_trace["trace_id"]])
    assert response["HX-Push-Url"] == f"{page}?span={rag_trace['llm'].span_id}"


def test_without_htmx_it_redirects_to_the_trace_page_with_the_span_open(owner_client, project, rag_trace):
    response = owner_client.get(span_url(project, rag_trace["trace_id"], rag_trace["llm"].span_id))
    page = reverse("traces:trace_detail", args=[project.pk, rag_trace["trace_id"]])
    assert response.status_code == 302
    assert response["Location"] == f"{page}?span={rag_trace['llm'].span_id}"


def test_an_llm_span_shows_the_conversation_timing_tokens_and_cost(owner_client, project, rag_trace):
    html = get(owner_client, project, rag_trace, "llm").content.decode()
    span = Span.objects.get(span_id=rag_trace["llm"].span_id)
    assert sections(html) == ["messages", "attributes", "raw"]
    assert "gpt-4o-mini" in html and "(openai)" in html
    assert '<div class="bubble r-user">' in html and '<div class="bubble r-assistant">' in html
    assert "It is 21 °C." in html
    assert "42 in · 17 out · 59 total" in html
    assert f"{span.cost:.6f}" in html
    assert "1.50 s" in html


def test_message_content_is_escaped(owner_client, project, rag_trace):
    html = get(owner_client, project, rag_trace, "llm").content.decode()
    assert "Weather in &lt;b&gt;Paris&lt;/b&gt;?" in html
    assert "<b>Paris</b>" not in html


def test_a_script_in_span_input_is_escaped_everywhere(owner_client, project):
    evil = "<script>alert('x')</script>"
    tid, spans = make_trace(project, n_llm=0, attributes={"input.value": evil, "output.value": evil, evil: evil})
    root = spans[0]
    Span.objects.filter(span_id=root.span_id).update(
        input_messages=[{"role": "user", "content": evil, "tool_calls": [{"name": evil, "arguments": evil}]}],
        documents=[{"id": evil, "content": evil, "score": 1, "metadata": {"k": evil}}],
        sdk_scores=[{"evaluator": evil, "value": 1, "passed": True, "details": {"why": evil}}],
        tool_name=evil,
        tool_arguments=evil,
        error=evil,
    )
    for response in (
        owner_client.get(span_url(project, tid, root.span_id), headers=HTMX),
        owner_client.get(reverse("traces:trace_detail", args=[project.pk, tid])),
    ):
        html = response.content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_a_retriever_span_lists_its_documents(owner_client, project, rag_trace):
    html = get(owner_client, project, rag_trace, "retriever").content.decode()
    assert sections(html)[0] == "messages"  # its query, as input text
    assert "documents" in sections(html)
    assert "Documents (2)" in html
    assert "doc-paris" in html and "Paris is the capital of France." in html
    assert "score 0.91" in html and "score 0.42" in html
    assert "wiki/Paris" in html


def test_a_tool_span_shows_name_arguments_and_result_as_pretty_json(owner_client, project, rag_trace):
    html = get(owner_client, project, rag_trace, "tool").content.decode()
    assert "tool" in sections(html)
    assert '<dd class="mono">get_weather</dd>' in html
    assert "{\n  &quot;city&quot;: &quot;Paris&quot;,\n  &quot;unit&quot;: &quot;C&quot;\n}" in html
    assert "&quot;temp&quot;: 21" in html


def test_an_error_span_shows_its_error(owner_client, project, rag_trace):
    html = get(owner_client, project, rag_trace, "failed").content.decode()
    assert '<div class="error-box">' in html
    assert "ValueError: no answer &lt;found&gt;" in html
    assert '<span class="badge err">error</span>' in html


def test_tool_calls_in_messages_show_name_and_arguments(owner_client, project, rag_trace):
    Span.objects.filter(span_id=rag_trace["llm"].span_id).update(
        output_messages=[
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}],
            }
        ],
        input_messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?"},
            {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "call_1"},
        ],
    )
    html = get(owner_client, project, rag_trace, "llm").content.decode()
    assert '<div class="bubble r-system">' in html and '<div class="bubble r-tool">' in html
    assert '<div class="toolcall"><span class="mono">get_weather</span> <span class="mono muted">call_1</span>' in html
    assert "&quot;city&quot;: &quot;Paris&quot;" in html
    assert "for call_1" in html


def test_sdk_scores_are_shown_and_labelled_from_sdk(owner_client, project, rag_trace):
    Span.objects.filter(span_id=rag_trace["llm"].span_id).update(
        sdk_scores=[
            {"evaluator": "Hallucination", "value": 0.12, "passed": True, "label": None, "details": {"claims": 3}},
            {"evaluator": "guardrails", "value": 0.0, "passed": False, "label": "violation", "details": {}},
        ]
    )
    html = get(owner_client, project, rag_trace, "llm").content.decode()
    assert "scores" in sections(html)
    assert "Hallucination" in html and "0.12" in html and "&quot;claims&quot;: 3" in html
    assert '<span class="badge err">failed</span>' in html and '<span class="badge ok">passed</span>' in html
    assert "from SDK" in html


def test_attributes_resource_and_raw_json(owner_client, project, rag_trace):
    html = get(owner_client, project, rag_trace, "tool").content.decode()
    assert '<span class="jk">tool.name</span>: <span class="jv jstr">&quot;get_weather&quot;</span>' in html
    assert '<span class="jk">service.name</span>: <span class="jv jstr">&quot;test-service&quot;</span>' in html
    raw = html.split('<pre class="json">', 1)[1].split("</pre>", 1)[0]
    import html as html_lib

    data = json.loads(html_lib.unescape(raw))  # the span as sent: its attributes as received
    assert data["span_id"] == rag_trace["tool"].span_id
    assert data["trace_id"] == rag_trace["trace_id"]
    assert data["attributes"]["tool.name"] == "get_weather"
    assert data["attributes"]["input.value"] == '{"city":"Paris","unit":"C"}'
    assert data["resource"] == {"service.name": "test-service"}


def test_a_span_of_another_trace_is_404_under_this_trace(owner_client, project, rag_trace):
    other_tid, other_spans = make_trace(project)
    url = span_url(project, rag_trace["trace_id"], other_spans[0].span_id)
    assert owner_client.get(url, headers=HTMX).status_code == 404
    assert owner_client.get(span_url(project, other_tid, other_spans[0].span_id), headers=HTMX).status_code == 200


def test_outsiders_get_404(client, outsider, project, rag_trace, other_project_and_key):
    client.force_login(outsider)
    assert get(client, project, rag_trace, "llm").status_code == 404
    assert client.get(span_url(project, rag_trace["trace_id"], rag_trace["llm"].span_id)).status_code == 404
    # Nor through their own project's URL.
    other_project, _ = other_project_and_key
    url = span_url(other_project, rag_trace["trace_id"], rag_trace["llm"].span_id)
    assert client.get(url, headers=HTMX).status_code == 404


def test_it_costs_a_fixed_number_of_queries(owner_client, project, rag_trace, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):  # session, user, membership, the span with its trace, the audit row
        assert get(owner_client, project, rag_trace, "retriever").status_code == 200


def test_peekr_evaluations_are_shown_apart_from_sdk_scores(owner_client, project, rag_trace):
    Span.objects.filter(span_id=rag_trace["llm"].span_id).update(
        eval_scores=[{"evaluator": "faithfulness", "value": 0.75, "passed": True}],
        sdk_scores=[{"evaluator": "Hallucination", "value": 0.12, "passed": True}],
    )
    html = get(owner_client, project, rag_trace, "llm").content.decode()
    assert "Scores (2)" in html
    assert html.index("From Peekr") < html.index("faithfulness") < html.index("From SDK") < html.index("Hallucination")
