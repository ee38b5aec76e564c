"""Copy buttons in headless Chromium: the trace id and the span id reach the clipboard (read back through the
Clipboard API), and the button says "Copied"."""

import os
import re

import pytest

from tests.base import make_trace
from tests.browser import browser_page
from tests.web.test_browser_layout import login

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLIPBOARD = "() => navigator.clipboard.readText()"


def test_the_trace_id_and_span_id_are_copied(live_server, owner, project):
    trace_id, spans = make_trace(project, name="answer")
    with browser_page(width=1440, height=900) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        login(page, live_server, project)
        page.goto(f"{live_server.url}/p/{project.pk}/traces/{trace_id}")

        button = page.locator(".crumbs [data-copy]")
        button.click()
        assert page.evaluate(CLIPBOARD) == trace_id
        assert button.inner_text() == "Copied"
        page.wait_for_function("() => document.querySelector('.crumbs [data-copy]').textContent === 'Copy id'")

        page.locator(".span-detail .facts [data-copy]").first.click()
        span_id = page.locator(".span-detail").get_attribute("data-span")
        assert span_id == spans[0].span_id
        assert page.evaluate(CLIPBOARD) == span_id

        # data-copy="#selector" copies an element's text (the API key page's snippets use that form).
        page.evaluate("""() => { const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = "x=1";
            const b = document.createElement("button"); b.type = "button"; b.className = "copy-inline";
            b.setAttribute("data-copy", "#probe"); b.textContent = "Copy"; document.querySelector("main").append(pre, b); }""")
        page.click("main > button[data-copy='#probe']")
        page.wait_for_function("() => document.querySelector('main > button.copy-inline').textContent === 'Copied'")
        assert page.evaluate(CLIPBOARD) == "x=1"
        assert re.search(trace_id, page.url)
