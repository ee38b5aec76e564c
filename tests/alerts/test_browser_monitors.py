"""The Monitors and Alerts pages in headless Chromium: states, a monitor created with the form, its chart drawn
under the real CSP, an alert acknowledged and resolved with htmx."""

import os
import re

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import Alert, Monitor
from tests.alerts.helpers import known_alert
from tests.base import make_rollups, steady_hours
from tests.browser import browser_page, login, screenshot

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_monitors_and_alerts_pages(live_server, owner, project):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    make_rollups(project, "score:faithfulness", steady_hours(now))
    services.monitors_evaluate(now=timezone.now(), project=project)
    alert = known_alert(project)
    faithfulness = Monitor.objects.get(project=project, metric="score:faithfulness")
    errors: list[str] = []
    with browser_page(height=1000) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        login(page, live_server, f"/p/{project.pk}/monitors")

        rows = page.locator("tr.monitor-row")
        assert rows.count() == 7
        row = page.locator(f"#monitor-{faithfulness.pk}")
        assert row.get_attribute("data-verdict") == "pass"
        assert row.locator(".value-24h").inner_text() == "0.850"
        assert row.locator("a.badge.err").inner_text() == "firing"

        # Disable a built-in in place (htmx swaps its row).
        cost = Monitor.objects.get(project=project, metric="cost_per_trace")
        page.locator(f"#monitor-{cost.pk} button", has_text="Disable").click()
        page.wait_for_selector(f"#monitor-{cost.pk}[data-enabled='0']")

        # Create a monitor; its page draws the chart.
        page.fill(".monitor-create input[name=name]", "Faithfulness on prod")
        page.fill(".monitor-create input[name=metric]", "score:faithfulness")
        page.fill(".monitor-create input[name=runbook_url]", "https://wiki.example.invalid/gone")
        page.click(".monitor-create button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/monitors/\d+$"))
        assert page.locator("h1").inner_text().startswith("Faithfulness on prod")
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1", timeout=20_000
        )
        assert page.locator("a[href='https://wiki.example.invalid/gone']").count() == 1
        screenshot(page, "monitor_detail.png", full_page=True)

        # Alerts: acknowledge, then resolve, in place.
        page.click("nav.tabs-nav a:has-text('Alerts')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/alerts$"))
        card = page.locator(f"#alert-{alert.pk}")
        assert "release 2.4.1: 0.61 vs 0.83" in card.locator(".af-moved").inner_text()
        card.locator("button", has_text="Acknowledge").click()
        page.wait_for_selector(f"#alert-{alert.pk}[data-state=acknowledged]")
        page.locator(f"#alert-{alert.pk} button", has_text="Resolve").click()
        page.wait_for_selector(f"#alert-{alert.pk}[data-state=resolved]")
        screenshot(page, "alerts.png", full_page=True)
    assert errors == []
    assert Alert.objects.get(pk=alert.pk).state == "resolved"
    assert Monitor.objects.filter(project=project, name="Faithfulness on prod").exists()
