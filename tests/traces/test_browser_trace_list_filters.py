"""The trace list's filters, sorting and saved views in headless Chromium: filter by environment and model prefix
(the URL keeps only what is set), sort by cost, save the view, clear, reopen it; times shown in local time."""

import os
import re
import time

import pytest

from tests.base import llm_attributes, make_raw_span
from tests.browser import browser_page, screenshot
from traces.services import spans_ingest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def listed(transactional_db, project):
    now = time.time()
    raws = []
    for i, (env, model, tokens) in enumerate([
        ("production", "gpt-4o-mini", 100), ("production", "gpt-4o", 3000), ("staging", "gpt-4o", 9000),
        ("production", "claude-sonnet-4", 500), ("production", "gpt-4.1", 800),
    ]):  # fmt: skip
        root = make_raw_span(name=f"request {i}", start=now - 60 * (i + 1), duration=1.0)
        child = make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, name="chat", kind=3,
                              start=now - 60 * (i + 1) + 0.1, duration=0.5,
                              attributes=llm_attributes(model=model, inp=tokens, out=tokens))  # fmt: skip
        for span in (root, child):
            span.resource["deployment.environment.name"] = env
        raws += [root, child]
    spans_ingest(project=project, raws=raws)
    return project


def names(page) -> list[str]:
    return page.locator("tr.trace-row .trace-name").all_inner_texts()


def test_filter_sort_save_and_reopen_a_view(live_server, owner, listed):
    project = listed
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # A lazy partial (the review-queue picker) still loading when the test leaves the page is aborted, and htmx
        # logs that as an error: not the page's fault (any answer >= 400 is still caught below).
        page.on("console", lambda msg: errors.append(msg.text + " @ " + page.url)
                if msg.type == "error" and not msg.text.startswith(("htmx:afterRequest", "htmx:sendError", "htmx:sendAbort"))
                else None)  # fmt: skip
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        # Each full page load waits for the network to settle: leaving a page while its lazy partials (the review
        # queue picker) load makes htmx log the aborted request.
        page.goto(f"{live_server.url}/p/{project.pk}/traces")
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/traces$"))
        page.wait_for_load_state("networkidle")
        assert len(names(page)) == 5
        assert page.locator("#trace-total").inner_text() == "5 traces"
        stamp = page.locator("time.local-time").first
        assert stamp.get_attribute("data-localised") == "1"  # shown in the viewer's zone...
        assert stamp.get_attribute("title").endswith(" UTC")  # ...UTC on hover

        # Filters: environment equals production, model starts with gpt-4; the URL has only these.
        page.click("details.more-filters summary")
        page.fill("input[name=environment]", "production")
        page.fill("input[name=model]", "gpt-4")
        page.select_option("select[name=model_op]", "prefix")  # a select applies at once
        page.click("form.filters button[type=submit]")
        page.wait_for_function("() => document.querySelectorAll('tr.trace-row').length === 3")
        query = page.url.split("?", 1)[1]
        assert sorted(query.split("&")) == ["environment=production", "model=gpt-4", "model_op=prefix"]
        assert sorted(names(page)) == ["request 0", "request 1", "request 4"]
        # Sort links replace a filter request still in flight (hx-sync on the form): its rows can no longer land
        # over the sorted ones. Wait anyway, so that the sort below is what is measured.
        page.wait_for_load_state("networkidle")

        # Sort by cost (most expensive first), then flip it.
        page.click("th.sortable a[data-sort=cost]")
        page.wait_for_url(re.compile(r"sort=-cost"))
        page.wait_for_function("() => document.querySelector('tr.trace-row .trace-name').textContent === 'request 1'")
        assert names(page) == ["request 1", "request 4", "request 0"]
        page.click("th.sortable a[data-sort=cost]")
        page.wait_for_url(re.compile(r"sort=cost(&|$)"))
        page.wait_for_function("() => document.querySelector('tr.trace-row .trace-name').textContent === 'request 0'")
        assert names(page) == ["request 0", "request 4", "request 1"]
        screenshot(page, "trace-list-filtered.png")

        # Save the view, clear everything, reopen it from the list above the filters.
        page.fill("form.save-view input[name=view_name]", "Cheap GPT-4 in prod")
        page.click("form.save-view button[type=submit]")
        page.wait_for_selector(".saved-view a:has-text('Cheap GPT-4 in prod')")
        page.wait_for_load_state("networkidle")
        page.click("form.filters a:has-text('Clear')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/traces$"))
        page.wait_for_load_state("networkidle")
        assert len(names(page)) == 5
        page.click(".saved-view a:has-text('Cheap GPT-4 in prod')")
        page.wait_for_url(re.compile(r"environment=production"))
        page.wait_for_load_state("networkidle")
        assert names(page) == ["request 0", "request 4", "request 1"]
        assert page.input_value("input[name=environment]") == "production"
        assert page.input_value("select[name=model_op]") == "prefix"

        # A custom range typed in local time goes out as UTC: nothing started in the year 2000.
        page.fill("input[data-utc-for=id_start_before]", "2000-01-02T00:00")
        page.wait_for_url(re.compile(r"start_before=2000-01-0"))
        page.wait_for_selector("text=No traces match these filters")
        assert "Z" in page.url.split("start_before=", 1)[1]
    assert errors == []
