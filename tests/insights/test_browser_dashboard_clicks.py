"""In headless Chromium: a click on a dashboard chart's bar opens the trace list filtered to that bar's traces."""

import os
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from tests.base import llm_attributes, make_raw_span
from tests.browser import browser_page, screenshot
from traces.models import Trace
from traces.services import spans_ingest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def traffic(project, *, model: str, n: int, start: float, error: bool = False) -> None:
    for i in range(n):
        root = make_raw_span(name=f"{model} answer {i}", start=start + i, duration=1.0,
                             status_code=2 if error else 0)  # fmt: skip
        llm = make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, name=f"chat {model}", kind=3,
                            start=start + i + 0.1, duration=0.5, attributes=llm_attributes(model=model))  # fmt: skip
        spans_ingest(project=project, raws=[root, llm])


def login(page, live_server, next_path: str) -> None:
    page.goto(f"{live_server.url}{next_path}")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboards"))


def test_a_click_on_a_bar_opens_the_traces_of_its_hour_with_the_dashboards_filter(live_server, owner, project):
    hour_ago = time.time() - 3 * 3600  # three hours back: its own bucket, inside the last 24 h
    traffic(project, model="gpt-4o-mini", n=3, start=hour_ago)
    traffic(project, model="claude-3-haiku", n=2, start=hour_ago)
    traffic(project, model="gpt-4o-mini", n=4, start=time.time() - 600)  # another hour: not in the bar clicked
    Trace.objects.filter(project=project).update(completed_at=timezone.now())
    errors: list[str] = []
    with browser_page(height=1200) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, live_server, f"/p/{project.pk}/dashboards?range=24h&model=gpt-4o-mini")
        page.wait_for_selector("#chart-traces [data-clickable] .bars path", state="attached")
        bars = page.locator("#chart-traces .bars path")
        # the oldest bar with traces (an empty hour is a bar of no height, its outline aside): three hours back
        boxes = [bars.nth(i).bounding_box() for i in range(bars.count())]
        box = min((b for b in boxes if b and b["height"] > 5), key=lambda b: b["x"])
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url(re.compile(r"/traces\?"))
        url = page.url
        page.wait_for_selector("table")
        names = page.locator("a", has_text=re.compile(r"answer \d")).all_inner_texts()
        screenshot(page, "dashboard-click-traces.png")
    query = parse_qs(urlparse(url).query)
    assert query["model"] == ["gpt-4o-mini"]
    assert query["status"] == ["ok"]
    start, end = query["start_after"][0], query["start_before"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", start) and end > start
    assert sorted(set(names)) == ["gpt-4o-mini answer 0", "gpt-4o-mini answer 1", "gpt-4o-mini answer 2"]
    assert not errors
