"""Dark mode in headless Chromium: it follows the system's prefers-color-scheme, the toggle overrides it and is
remembered (applied before the first paint, so no white flash), and the dashboards' charts follow."""

import os
import re

import pytest

from tests.base import make_trace
from tests.browser import browser_page
from tests.web.test_browser_layout import login

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIGHT_BG, DARK_BG = "rgb(246, 247, 249)", "rgb(15, 18, 23)"
BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"
# Recorded when <body> is first inserted, i.e. before anything of the page could be painted.
RECORD_FIRST_PAINT = """
new MutationObserver((_, observer) => {
  if (!document.body) return;
  window.__themeAtBody = document.documentElement.getAttribute("data-theme");
  observer.disconnect();
}).observe(document, {childList: true, subtree: true});
"""
# The luminance (0..1) of a chart's first x tick label, as Plotly drew it.
TICK_LUMINANCE = """() => {
  const text = document.querySelector(".js-plotly-plot .xtick text");
  const [r, g, b] = getComputedStyle(text).fill.match(/\\d+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


def test_the_page_follows_the_system_and_the_toggle(live_server, owner, project):
    with browser_page(width=1440, height=900) as page:
        page.add_init_script(RECORD_FIRST_PAINT)
        login(page, live_server, project)
        page.emulate_media(color_scheme="light")
        assert page.evaluate(BACKGROUND) == LIGHT_BG
        page.emulate_media(color_scheme="dark")
        assert page.evaluate(BACKGROUND) == DARK_BG

        # The toggle flips what is shown and remembers it; back to the system's choice, it forgets it.
        page.emulate_media(color_scheme="light")
        page.click(".theme-toggle")
        assert page.evaluate(BACKGROUND) == DARK_BG
        assert page.evaluate("() => localStorage.getItem('peekr.theme')") == "dark"

        # Another page: dark from the first paint, whatever the system says.
        page.goto(f"{live_server.url}/p/{project.pk}/sessions")
        assert page.evaluate("() => window.__themeAtBody") == "dark"
        assert page.evaluate(BACKGROUND) == DARK_BG

        page.click(".theme-toggle")
        assert page.evaluate(BACKGROUND) == LIGHT_BG
        assert page.evaluate("() => localStorage.getItem('peekr.theme')") is None  # light is the system's: follow it
        page.emulate_media(color_scheme="dark")
        assert page.evaluate(BACKGROUND) == DARK_BG


def test_charts_are_readable_in_both_themes(live_server, owner, project):
    for i in range(3):
        make_trace(project, name=f"request {i}")
    with browser_page(width=1440, height=900) as page:
        page.emulate_media(color_scheme="dark")
        login(page, live_server, project)
        page.goto(f"{live_server.url}/p/{project.pk}/dashboards")
        page.wait_for_function("() => document.querySelector('.js-plotly-plot .xtick text')", timeout=20_000)
        assert page.evaluate(TICK_LUMINANCE) > 0.5  # light text on the dark page
        page.click(".theme-toggle")
        page.wait_for_function(TICK_LUMINANCE.replace("return (", "return 0.5 > ("))
        assert page.evaluate(TICK_LUMINANCE) < 0.5  # dark text once the page is light
        assert re.search(r"/dashboards$", page.url)
