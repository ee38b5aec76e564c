"""The virtualised waterfall in headless Chromium: a 5,000-span trace keeps few rows in the DOM, scrolls to its
last span, folds a subtree, moves the selection with the arrow keys and opens the span panel."""

import os
import re

import pytest

from tests.base import hex_id, wide_trace_raws
from tests.browser import browser_page, login
from traces.services import spans_ingest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def huge_trace(transactional_db, project):
    """tests.base.wide_trace_raws: 5,000 spans, depth-first order known."""
    tid = hex_id(16)
    raws = wide_trace_raws(tid)
    spans_ingest(project=project, raws=raws)
    names = {r.name: r.span_id for r in raws}
    return {"trace_id": tid, "ids": names, "last": raws[-1]}


def selected_name(page) -> str:
    return page.locator("#wf-rows .wf-row.sel .wf-name").inner_text()


def test_a_5000_span_waterfall_is_virtualised_and_driven_by_keys(live_server, owner, project, huge_trace):
    errors: list[str] = []
    ids = huge_trace["ids"]
    with browser_page(height=900) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        login(page, live_server, f"/p/{project.pk}/traces/{huge_trace['trace_id']}")
        page.wait_for_selector("#wf-rows[data-virtual] .wf-row")

        # Few rows in the DOM, the root selected; the page is as tall as 5,000 rows.
        assert page.locator(".wf-row").count() < 100
        assert not page.locator(".wf-more").count()  # the "show next" button is gone
        assert selected_name(page) == "batch job"
        assert page.evaluate("() => document.getElementById('wf-rows').offsetHeight") > 4999 * 20

        # Scroll to the end: the last span is drawn, and still only a window of rows.
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        last = huge_trace["last"]
        page.wait_for_selector(f".wf-row[href='?span={last.span_id}']")
        assert page.locator(".wf-row").count() < 100

        # Back to the top; fold "step 0": its 99 items leave, "step 1" follows it.
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_selector(f".wf-row[href='?span={ids['step 0']}']")
        page.click(f".wf-row[href='?span={ids['step 0']}'] .caret")
        following = page.locator(f".wf-row[href='?span={ids['step 0']}'] + .wf-row .wf-name")
        assert following.inner_text() == "step 1"
        assert page.locator(".wf-row.collapsed").count() == 1
        assert "span=" not in page.url  # folding never opens the span
        page.click(f".wf-row[href='?span={ids['step 0']}'] .caret")
        assert following.inner_text() == "item 0.0"
        page.click(f".wf-row[href='?span={ids['step 0']}'] .caret")  # folded again: "step 1" is in view

        # Click "step 1": its panel opens. Arrow keys move the selection; left/right fold and unfold; enter opens.
        page.click(f".wf-row[href='?span={ids['step 1']}'] .wf-name")
        page.wait_for_selector(f".span-detail[data-span='{ids['step 1']}']")
        assert selected_name(page) == "step 1"
        page.keyboard.press("ArrowDown")
        assert selected_name(page) == "item 1.0"
        page.keyboard.press("ArrowDown")
        assert selected_name(page) == "item 1.1"
        page.keyboard.press("ArrowLeft")  # a leaf: to its parent
        assert selected_name(page) == "step 1"
        page.keyboard.press("ArrowLeft")  # fold
        assert page.locator(f".wf-row.collapsed[href='?span={ids['step 1']}']").count() == 1
        page.keyboard.press("ArrowDown")
        assert selected_name(page) == "step 2"
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowRight")  # unfold
        assert page.locator(".wf-row.collapsed").count() == 1  # "step 0" only
        page.keyboard.press("ArrowRight")  # to the first child
        assert selected_name(page) == "item 1.0"
        page.keyboard.press("Enter")
        page.wait_for_selector(f".span-detail[data-span='{ids['item 1.0']}']")
        assert re.search(rf"span={ids['item 1.0']}", page.url)

        # Far down with the keys: End selects the last row and scrolls it into view.
        page.keyboard.press("End")
        assert selected_name(page) == last.name
        assert page.locator(f".wf-row.sel[href='?span={last.span_id}']").is_visible()
    assert errors == []
