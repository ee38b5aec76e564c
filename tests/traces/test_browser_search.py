"""Search in headless Chromium: type a word into the trace list's search box, see where it matched, open that span."""

import json
import os
import re
import time

import pytest

from tests.base import hex_id, llm_attributes, make_raw_span
from tests.browser import browser_page, login, screenshot
from traces.models import Span
from traces.services import spans_ingest

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _trace(project, name: str, start: float, child: dict) -> str:
    trace_id = hex_id(16)
    root = make_raw_span(trace_id=trace_id, name=name, start=start, duration=2.0)
    span = make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, start=start + 0.1, **child)
    spans_ingest(project=project, raws=[root, span])
    return trace_id


@pytest.fixture
def searchable(transactional_db, project):
    now = time.time()
    for i in range(4):
        _trace(project, f"small talk {i}", now - 600 - i, {"name": "chat", "attributes": llm_attributes()})
    packing = _trace(
        project,
        "packing agent",
        now - 60,
        {
            "name": "execute_tool buy_item",
            "attributes": {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "buy_item",
                "gen_ai.tool.call.arguments": json.dumps({"item": "umbrella", "colour": "yellow"}),
                "gen_ai.tool.call.result": "ordered",
            },
        },
    )
    return {"project": project, "trace_id": packing, "span_id": Span.objects.get(name="execute_tool buy_item").span_id}


def test_a_user_searches_and_opens_the_span_that_matched(live_server, owner, searchable):
    project = searchable["project"]
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        login(page, live_server, f"/p/{project.pk}/traces")
        assert page.locator("tr.trace-row").count() == 5

        # Type into the search box and press enter: the list narrows (htmx) and the URL carries q.
        page.fill("input[name=q]", "umbrella")
        page.press("input[name=q]", "Enter")
        page.wait_for_url(re.compile(r"q=umbrella"))
        page.wait_for_function("() => document.querySelectorAll('tr.trace-row').length === 1")
        row = page.locator("tr.trace-row")
        assert row.locator(".trace-name").inner_text() == "packing agent"
        hit = row.locator("a.search-hit")
        assert hit.count() == 1
        assert hit.locator("mark").inner_text() == "umbrella"
        assert "tool arguments" in hit.inner_text()
        screenshot(page, "search.png")

        # The snippet opens the trace with the matching span's detail open.
        hit.click()
        page.wait_for_url(re.compile(rf"{searchable['trace_id']}\?span={searchable['span_id']}"))
        page.wait_for_selector(f"#span-panel .span-detail[data-span='{searchable['span_id']}']")
        assert page.locator(".wf-row.sel").get_attribute("href") == f"?span={searchable['span_id']}"
        screenshot(page, "search-opened.png")
    assert errors == []
