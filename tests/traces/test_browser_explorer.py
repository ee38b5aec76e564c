"""The trace explorer in headless Chromium: log in, list, open a trace, open spans beside the waterfall."""

import json
import os
import re
import time

import pytest

from tests.base import llm_attributes, make_raw_span, make_trace
from tests.browser import browser_page, screenshot
from traces.services import spans_ingest

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def explorer_data(transactional_db, project):
    now = time.time()
    for i in range(6):
        make_trace(project, name=f"earlier request {i}", start=now - 3600 - i * 300, n_llm=1)
    trace_id, spans = make_trace(
        project,
        name="answer question",
        start=now - 90,
        attributes={"session.id": "chat-7", "user.id": "erin", "input.value": "What is the capital of France?"},
    )
    root = spans[0]
    retriever = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name="vector search",
        start=now - 90 + 0.05,
        duration=0.04,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "input.value": "capital of France",
            "retrieval.documents.0.document.id": "doc-paris",
            "retrieval.documents.0.document.content": "Paris is the capital and largest city of France.",
            "retrieval.documents.0.document.score": 0.93,
            "retrieval.documents.0.document.metadata": json.dumps({"source": "wiki/Paris"}),
            "retrieval.documents.1.document.id": "doc-lyon",
            "retrieval.documents.1.document.content": "Lyon is the third-largest city of France.",
            "retrieval.documents.1.document.score": 0.41,
        },
    )
    failing = make_raw_span(
        trace_id=trace_id,
        parent_span_id=spans[2].span_id,
        name="parse citations",
        start=now - 90 + 1.95,
        duration=0.03,
        status_code=2,
        status_message="CitationError: answer cites doc-9 which was not retrieved",
    )
    judge = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name="chat gpt-4o",
        kind=3,
        start=now - 90 + 2.2,
        duration=0.6,
        attributes=llm_attributes(model="gpt-4o", prompt="Is the answer grounded?", answer="Yes."),
    )
    spans_ingest(project=project, raws=[retriever, failing, judge])
    return {"project": project, "trace_id": trace_id, "root": root, "retriever": retriever, "failing": failing}


def test_a_user_explores_a_trace(live_server, owner, explorer_data):
    project = explorer_data["project"]
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        # Log in through the form; "/" opens the first project's traces.
        page.goto(f"{live_server.url}/p/{project.pk}/traces")
        assert "/login/" in page.url
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/traces$"))
        rows = page.locator("tr.trace-row")
        assert rows.count() == 7
        assert rows.first.locator(".trace-name").inner_text() == "answer question"
        assert rows.first.locator(".badge.err").is_visible()
        screenshot(page, "list.png")

        # Filters go through htmx and land in the URL.
        page.fill("input[name=name]", "earlier")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"name=earlier"))
        page.wait_for_function("() => document.querySelectorAll('tr.trace-row').length === 6")
        page.click("form.filters a:has-text('Clear')")
        page.wait_for_function("() => document.querySelectorAll('tr.trace-row').length === 7")
        page.select_option("select[name=status]", "error")  # a select applies at once, no button
        page.wait_for_url(re.compile(r"status=error"))
        page.wait_for_function("() => document.querySelectorAll('tr.trace-row').length === 1")

        # Open the trace: the root's detail is open beside the waterfall.
        page.click("a.trace-name:has-text('answer question')")
        page.wait_for_url(re.compile(explorer_data["trace_id"]))
        panel = page.locator("#span-panel")
        assert panel.locator(".span-detail").get_attribute("data-span") == explorer_data["root"].span_id
        assert page.locator(".wf-row").count() == 6
        assert page.locator(".wf-row.err").count() == 1
        screenshot(page, "trace.png")

        # Click the retriever row: the panel swaps without a page load and the URL follows.
        page.evaluate("window.__same_page = true")
        page.click(f".wf-row[href='?span={explorer_data['retriever'].span_id}']")
        page.wait_for_selector(f".span-detail[data-span='{explorer_data['retriever'].span_id}']")
        assert page.evaluate("window.__same_page") is True
        assert f"span={explorer_data['retriever'].span_id}" in page.url
        page.click(".tabbar .tab[data-tab=documents]")
        docs = panel.locator(".pane.active .doc")
        assert docs.count() == 2
        assert docs.first.locator(".md").inner_text() == "Paris is the capital and largest city of France."
        assert docs.first.get_by_text("score 0.93").is_visible()
        assert not panel.locator("pre.json").is_visible()  # the other tabs are hidden
        assert page.locator(".wf-row.sel").get_attribute("href") == f"?span={explorer_data['retriever'].span_id}"
        screenshot(page, "span.png")

        # The error span: its error is shown; the chosen tab is remembered only where it exists.
        page.click(f".wf-row[href='?span={explorer_data['failing'].span_id}']")
        page.wait_for_selector(f".span-detail[data-span='{explorer_data['failing'].span_id}']")
        assert "CitationError: answer cites doc-9 which was not retrieved" in panel.locator(".error-box").inner_text()
        assert panel.locator(".pane.active").count() == 1

        # Collapse the root: every other row hides; expand: they come back. The click never opens the span.
        page.click(".wf-row[data-d='0'] .caret")
        assert page.locator(".wf-row:visible").count() == 1
        assert f"span={explorer_data['failing'].span_id}" in page.url
        page.click(".wf-row[data-d='0'] .caret")
        assert page.locator(".wf-row:visible").count() == 6

        # Reloading keeps the open span (the pushed URL renders it server-side).
        page.reload()
        assert panel.locator(".span-detail").get_attribute("data-span") == explorer_data["failing"].span_id

    assert errors == []


def test_the_explorer_works_without_javascript(live_server, owner, explorer_data):
    project, failing = explorer_data["project"], explorer_data["failing"]
    with browser_page(javascript=False) as page:
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/traces$"))

        page.fill("input[name=name]", "answer")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"name=answer"))
        assert page.locator("tr.trace-row").count() == 1

        page.click("a.trace-name")
        page.click(f".wf-row[href='?span={failing.span_id}']")  # a plain link: the page reloads with it open
        page.wait_for_url(re.compile(rf"\?span={failing.span_id}$"))
        detail = page.locator(".span-detail")
        assert detail.get_attribute("data-span") == failing.span_id
        # Without JS every section is shown, one after another.
        assert page.locator(".pane").count() == page.locator(".pane:visible").count() >= 2
