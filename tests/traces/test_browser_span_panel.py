"""The span panel in headless Chromium: markdown rendered (and a <script> inert), JSON trees that fold and copy,
a plain-string input shown beside the output, and a tab the next span lacks falling back to the first."""

import json
import os
import re
import time

import pytest

from tests.base import hex_id, make_raw_span
from tests.browser import browser_page, screenshot
from traces.services import spans_ingest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWER = "# Paris\n\nThe capital is **Paris**.\n\n```python\nprint('Paris')\n```\n\n<script>window.__pwned = 1</script>"


@pytest.fixture
def panel_trace(transactional_db, project):
    tid, start = hex_id(16), time.time() - 60
    root = make_raw_span(trace_id=tid, name="POST /v1/answer", start=start, duration=3.0)
    retriever = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="search",
        start=start + 0.1,
        duration=0.2,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "input.value": "capital of France",
            "retrieval.documents.0.document.id": "doc-paris",
            "retrieval.documents.0.document.content": "Paris is the capital of France.",
        },
    )
    llm = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        kind=3,
        start=start + 0.5,
        duration=1.0,
        attributes={
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "input.value": "What is the capital of France?",  # a plain string input...
            "llm.output_messages.0.message.role": "assistant",  # ...and an output message
            "llm.output_messages.0.message.content": ANSWER,
            "app.request": json.dumps({"user": {"id": 7, "plan": "pro"}, "flags": [1, 2]}),
        },
    )
    spans_ingest(project=project, raws=[root, retriever, llm])
    return {"project": project, "trace_id": tid, "retriever": retriever, "llm": llm}


def login(page, live_server, project):
    page.goto(f"{live_server.url}/p/{project.pk}/traces")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"/p/{project.pk}/traces"))


def test_messages_render_as_markdown_and_a_script_stays_inert(live_server, owner, panel_trace):
    t = panel_trace
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, live_server, t["project"])
        page.goto(f"{live_server.url}/p/{t['project'].pk}/traces/{t['trace_id']}?span={t['llm'].span_id}")
        pane = page.locator(".pane.active[data-pane=messages]")
        # Both sides: the plain-string input is not lost behind the output message.
        seps = pane.locator(".chat-sep").all_inner_texts()
        assert [s.strip().lower() for s in seps] == ["input", "output"]
        assert "What is the capital of France?" in pane.locator(".bubble").first.inner_text()
        answer = pane.locator(".bubble.r-assistant .md")
        assert answer.locator("h1").inner_text() == "Paris"
        assert answer.locator("strong").inner_text() == "Paris"
        assert answer.locator("pre.hl code.language-python span").count() >= 3  # highlighted tokens
        assert answer.locator("script").count() == 0
        assert "<script>window.__pwned = 1</script>" in answer.inner_text()  # shown as text
        assert page.evaluate("() => window.__pwned") is None
        screenshot(page, "span_markdown.png")
    assert errors == []


def test_json_trees_collapse_expand_and_copy(live_server, owner, panel_trace):
    t = panel_trace
    with browser_page() as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        login(page, live_server, t["project"])
        page.goto(f"{live_server.url}/p/{t['project'].pk}/traces/{t['trace_id']}?span={t['llm'].span_id}")
        page.click(".tabbar .tab[data-tab=attributes]")
        attrs = page.locator(".pane.active .json-block.attrs")
        root = attrs.locator("ul.jtree > li > details.jnode")
        assert root.get_attribute("open") is not None
        user = attrs.locator("details.jnode:has(> summary > .jk:text-is('app.request'))")
        assert user.is_visible()
        assert attrs.locator(".jk:text-is('user')").is_visible()  # a JSON string attribute, opened as a tree
        root.locator("> summary").click()  # collapse
        assert root.get_attribute("open") is None
        assert not attrs.locator(".jk:text-is('user')").is_visible()
        root.locator("> summary").click()  # expand
        assert attrs.locator(".jk:text-is('user')").is_visible()
        button = attrs.locator("h4 button.copy")
        button.click()
        page.wait_for_function(
            "() => document.querySelector('.json-block.attrs h4 button.copy').textContent === 'Copied'"
        )
        copied = json.loads(page.evaluate("() => navigator.clipboard.readText()"))
        assert json.loads(copied["app.request"]) == {"user": {"id": 7, "plan": "pro"}, "flags": [1, 2]}
        assert copied["llm.model_name"] == "gpt-4o-mini"
        screenshot(page, "span_json_tree.png")


def test_a_tab_the_next_span_lacks_falls_back_to_the_first(live_server, owner, panel_trace):
    t = panel_trace
    with browser_page() as page:
        login(page, live_server, t["project"])
        page.goto(f"{live_server.url}/p/{t['project'].pk}/traces/{t['trace_id']}?span={t['retriever'].span_id}")
        page.click(".tabbar .tab[data-tab=documents]")
        assert page.locator(".tabbar .tab.active").get_attribute("data-tab") == "documents"
        page.click(f".wf-row[href='?span={t['llm'].span_id}']")  # the LLM span has no Documents tab
        page.wait_for_selector(f".span-detail[data-span='{t['llm'].span_id}']")
        active = page.locator(".tabbar .tab.active")
        assert active.count() == 1 and active.get_attribute("data-tab") == "messages"
        assert page.locator(".pane.active").get_attribute("data-pane") == "messages"
        # and back: the remembered tab exists again
        page.click(f".wf-row[href='?span={t['retriever'].span_id}']")
        page.wait_for_selector(f".span-detail[data-span='{t['retriever'].span_id}']")
        assert page.locator(".tabbar .tab.active").get_attribute("data-tab") == "documents"
