"""Keys for everything, in headless Chromium: / focuses the search, j/k move a highlight in the list, Enter opens the
row, [ and ] walk the traces of the list you came from, ? shows the shortcuts; nothing fires while typing."""

import os
import re
import time

import pytest

from tests.base import make_trace
from tests.browser import browser_page
from tests.web.test_browser_layout import login
from traces.models import Trace

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SELECTED = "() => Array.from(document.querySelectorAll('tr.trace-row')).findIndex(r => r.classList.contains('kb-sel'))"


@pytest.fixture
def traces(project) -> list[str]:
    """Five traces, newest first as the list shows them."""
    now = time.time()
    for i in range(5):
        make_trace(project, name=f"request {i}", start=now - 60 - i * 60, n_llm=1)
    return list(Trace.objects.filter(project=project).order_by("-start_time").values_list("trace_id", flat=True))


def test_the_keyboard_walks_the_trace_list_and_its_traces(live_server, owner, project, traces):
    p = project.pk
    with browser_page(width=1440, height=900) as page:
        login(page, live_server, project)
        page.goto(f"{live_server.url}/p/{p}/traces")
        assert page.locator("tr.trace-row").count() == 5

        # "/" focuses the search box (the trace list's q, else its first filter box); typing there fires nothing.
        page.keyboard.press("/")
        focused = page.evaluate("() => [document.activeElement.tagName, !!document.activeElement.closest('main')]")
        assert focused == ["INPUT", True]
        page.keyboard.type("jj")
        assert page.evaluate("() => document.activeElement.value").endswith("jj")
        assert page.evaluate(SELECTED) == -1
        page.evaluate("() => { document.activeElement.value = ''; document.activeElement.blur(); }")

        # j / k move the highlight; Enter opens the highlighted trace.
        page.keyboard.press("j")
        assert page.evaluate(SELECTED) == 0
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        assert page.evaluate(SELECTED) == 1
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/traces/{traces[1]}$"))

        # ] and [ walk the list we came from, in its order; past either end nothing happens.
        page.keyboard.press("]")
        page.wait_for_url(re.compile(rf"/traces/{traces[2]}$"))
        page.keyboard.press("[")
        page.wait_for_url(re.compile(rf"/traces/{traces[1]}$"))
        page.keyboard.press("[")
        page.wait_for_url(re.compile(rf"/traces/{traces[0]}$"))
        page.keyboard.press("[")
        page.wait_for_timeout(300)
        assert page.url.endswith(f"/traces/{traces[0]}")

        # ? shows the shortcuts; Esc closes them.
        page.keyboard.press("?")
        dialog = page.locator("dialog#shortcuts-dialog")
        assert dialog.is_visible()
        assert "Previous / next trace" in dialog.inner_text()
        page.keyboard.press("Escape")
        assert not dialog.is_visible()


def test_brackets_follow_the_list_you_came_from(live_server, owner, project, traces):
    """Opened from a session's timeline (another list, found by the same keys), ] walks that session's traces."""
    now = time.time()
    for i in range(3):
        make_trace(project, name=f"turn {i}", start=now - 30 + i, n_llm=1, attributes={"session.id": "chat-9"})
    with browser_page(width=800, height=900) as page:
        login(page, live_server, project)
        page.goto(f"{live_server.url}/p/{project.pk}/sessions")
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/sessions/chat-9$"))
        turns = page.eval_on_selector_all(
            "main .timeline > li .turn-head > a:first-child", "links => links.map(a => a.pathname)"
        )
        assert len(turns) == 3
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(re.escape(turns[0]) + "$"))
        page.keyboard.press("]")
        page.wait_for_url(re.compile(re.escape(turns[1]) + "$"))  # the session's next turn, not the trace list's
