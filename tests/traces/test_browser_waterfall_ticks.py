"""The waterfall's time axis in headless Chromium: at every width from 800 px up, the tick labels that are shown do
not run into one another ("500 ms1000 ms"), and the axis still shows where the trace starts and ends."""

import os

import pytest

from tests.base import make_trace
from tests.browser import browser_page, login

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Left/right edge and text of each tick label that is displayed (a tick may keep its line and hide its text).
SHOWN_TICKS = """() => [...document.querySelectorAll('.wf-axis .tick')]
  .filter(t => t.getClientRects().length > 0 && getComputedStyle(t).color !== 'rgba(0, 0, 0, 0)')
  .map(t => { const r = t.getBoundingClientRect(); return [r.left, r.right, t.textContent]; })"""


def test_tick_labels_never_overlap_from_800_to_1440_px(live_server, owner, project):
    # A one-second trace: six ticks of up to seven characters ("0" ... "1000 ms"), the widest labels there are.
    trace_id, _ = make_trace(project, n_llm=0, name="one second")
    with browser_page(width=800) as page:
        login(page, live_server, f"/p/{project.pk}/traces/{trace_id}")
        page.wait_for_selector(".wf-axis .tick", state="attached")
        assert page.locator(".wf-axis .ticks-wide .tick").count() == 6
        for width in (800, 860, 900, 1000, 1200, 1440):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(50)
            shown = page.evaluate(SHOWN_TICKS)
            labels = [text for _, _, text in shown]
            assert labels[0] == "0" and labels[-1] == "1000 ms", (width, labels)
            for (_, right, a), (left, _, b) in zip(shown, shown[1:], strict=False):
                assert right <= left + 0.5, f"{a!r} runs into {b!r} at {width} px"
            if width == 1440:  # the five-ish set: all but the one before the end, which keeps its line
                assert labels == ["0", "200 ms", "400 ms", "600 ms", "1000 ms"], labels
