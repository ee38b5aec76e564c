"""In headless Chromium, under the Content-Security-Policy: the Evaluations page draws the lag chart from its
samples, and the "behind" notice shows, with nothing refused."""

import os
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.browser import browser_page
from tests.traces.pipeline_backlog import completed_traces
from traces.models import PipelineSample

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


def test_the_lag_chart_is_drawn_without_breaking_the_policy(live_server, owner, project, settings):
    settings.PEEKR_PIPELINE_BEHIND_SECONDS = 60
    now = timezone.now().replace(second=0, microsecond=0)
    for minutes in range(0, 120, 5):
        PipelineSample.objects.create(
            at=now - timedelta(minutes=minutes), stage="evaluate", waiting=minutes * 10, oldest_seconds=minutes * 6.0
        )
    completed_traces(project, 2, age_seconds=300)
    cache.clear()  # the notice is read afresh: the pipeline is behind
    errors: list[str] = []
    with browser_page() as page:
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/"))
        page.goto(f"{live_server.url}/p/{project.pk}/evals")
        page.wait_for_selector("#eval-lag .js-plotly-plot .main-svg", timeout=20_000)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == []
        assert errors == []
        assert page.inner_text(".pipeline-behind") == "Evaluations are 5 min behind: 2 traces waiting"
