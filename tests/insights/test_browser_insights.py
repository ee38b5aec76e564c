"""The Insights tab, a trace page with findings and the dashboards in headless Chromium, on the demo traffic."""

import os
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from evals.services import trace_evaluate
from insights import services
from insights.models import Finding, Insight
from tests.browser import browser_page, login, screenshot
from traces.models import Trace
from traces.services import trace_settle

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRIAGE_MESSAGE = (
    'Root cause: sequential execution of "chat.completions"\n'
    "2 spans ran one after another. Total: 10.5s, slowest single: 5.7s. Running them concurrently would save 4.8s."
)
FINDING_ROW_BACKGROUND = "rgb(255, 246, 227)"  # --finding-soft


@pytest.fixture
def demo_project(live_server, project, api_key, settings):
    """The demo's day of traffic in the owner's project, completed, detected and evaluated (rule evaluators)."""
    call_command("peekr_demo", endpoint=live_server.url, key=api_key, traces=60, stdout=StringIO())
    settings.PEEKR_TRACE_QUIET_SECONDS = 0
    for pk in Trace.objects.filter(project=project).values_list("pk", flat=True):
        trace_settle(trace_pk=pk, now=timezone.now())
        services.trace_detect(trace_pk=pk)
        trace_evaluate(trace_pk=pk)
    return project


def test_a_user_reads_the_insights_and_the_trace_they_point_at(live_server, owner, demo_project):
    project = demo_project
    # Everything read from the database is read here, outside the browser: ORM calls made inside Playwright's
    # greenlet would open a connection of their own that outlives the test.
    triage = Finding.objects.select_related("trace").get(
        project=project, detector="sequential_execution", endpoint="POST /v1/triage"
    )
    insight_count = Insight.objects.filter(project=project).count()
    errors: list[str] = []
    with browser_page(height=1000) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        login(page, live_server, f"/p/{project.pk}/insights")

        # Ranked by time saved per day; every detector the demo triggers has its card.
        cards = page.locator(".insight-card")
        assert cards.count() == insight_count >= 8
        detectors = set(cards.evaluate_all("els => els.map(e => e.dataset.detector)"))
        assert {"sequential_execution", "judge_critical_path", "runaway_loop", "context_growth"} <= detectors
        card = page.locator(f"#insight-{triage.insight_id}")
        assert card.locator(".ic-message").inner_text() == TRIAGE_MESSAGE
        assert "POST /v1/triage" in card.locator(".ic-where").inner_text()
        card.locator(".ic-fix summary").click()
        assert card.locator(".fix-after pre").first.is_visible()
        screenshot(page, "insights.png", full_page=True)

        # Dismiss another insight in place (htmx swaps its card), then filter it back in.
        loop = page.locator(".insight-card[data-detector=runaway_loop]").first
        loop_id = loop.get_attribute("id")
        loop.locator("button[value=dismissed]").click()
        page.wait_for_selector(f"#{loop_id}[data-status=dismissed]")
        page.select_option("select[name=status]", "dismissed")
        page.wait_for_url(re.compile(r"status=dismissed"))
        page.wait_for_function("() => document.querySelectorAll('.insight-card').length === 1")

        # The trace page: the finding above the waterfall, its two calls marked in it.
        page.select_option("select[name=status]", "active")
        page.wait_for_function(f"() => !!document.querySelector('#insight-{triage.insight_id}')")
        page.locator(f"#insight-{triage.insight_id} .ic-examples a").first.click()
        page.wait_for_url(re.compile(triage.trace.trace_id))
        finding = page.locator(".finding[data-detector=sequential_execution]")
        assert finding.locator(".finding-message").inner_text() == TRIAGE_MESSAGE
        assert "saves 4.80 s" in finding.locator(".finding-saving").inner_text()
        marked = page.locator(".wf-row.has-finding")
        assert marked.count() == 2
        assert sorted(marked.evaluate_all("els => els.map(e => e.getAttribute('href').slice(6))")) == sorted(
            triage.span_ids
        )
        assert marked.first.evaluate("e => getComputedStyle(e).backgroundColor") == FINDING_ROW_BACKGROUND
        assert marked.first.locator(".wf-finding").inner_text().endswith("1")
        finding.locator(".finding-fix summary").click()  # the fix folds away, leaving the waterfall in view
        copy = finding.locator(".fix-after .copy").first
        copy.click()
        page.wait_for_function("() => document.querySelector('.finding .fix-after .copy').textContent === 'Copied'")
        screenshot(page, "trace_findings.png", full_page=True)

        # Dashboards: every chart loads as a partial; the demo sets no prompt version, and that chart says so.
        page.click("nav.tabs-nav a:has-text('Dashboards')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/dashboards$"))
        page.wait_for_function("() => document.querySelectorAll('.chart-loading').length === 0", timeout=20_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 9", timeout=20_000
        )
        assert (
            page.locator(".chart-empty[data-chart=prompts]")
            .inner_text()
            .startswith("No LLM calls with a prompt version in the last 24 hours.")
        )
        assert page.locator(".chart[data-chart=eval_pass_rate] .js-plotly-plot").count() == 1
        screenshot(page, "dashboards.png", full_page=True)

    assert errors == []
    assert Insight.objects.get(pk=int(loop_id.split("-")[1])).status == "dismissed"
