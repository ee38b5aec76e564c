"""Every main page, in headless Chromium, under the Content-Security-Policy: nothing is refused (no inline script
without the nonce, no eval, nothing from elsewhere) and the pages still work (charts drawn, htmx swaps, the inline
script ran). The last step injects a script to show the policy is enforced and that refusals are seen."""

import os
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from annotations.services import queue_create, queue_items_add
from evals.services import trace_evaluate
from insights import services as insight_services
from tests.browser import browser_page
from traces.models import Trace
from traces.services import trace_settle

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture
def site(live_server, owner, project, api_key, settings):
    """Demo traffic, settled, detected and evaluated; a review queue with items; the owner an admin too."""
    call_command("peekr_demo", endpoint=live_server.url, key=api_key, traces=25, stdout=StringIO())
    settings.PEEKR_TRACE_QUIET_SECONDS = 0
    pks = list(Trace.objects.filter(project=project).values_list("pk", flat=True))
    for pk in pks:
        trace_settle(trace_pk=pk, now=timezone.now())
        insight_services.trace_detect(trace_pk=pk)
        trace_evaluate(trace_pk=pk)
    queue = queue_create(project=project, name="Check", score_configs=[{"name": "correct", "type": "boolean"}])
    queue_items_add(queue=queue, trace_pks=pks[:3])
    owner.is_staff = owner.is_superuser = True
    owner.save()
    trace = Trace.objects.filter(project=project).order_by("-pk").first()
    return {"project": project, "queue": queue, "trace_id": trace.trace_id}


def test_the_pages_break_no_rule_of_the_content_security_policy(live_server, site):
    p, q = site["project"].pk, site["queue"].pk
    pages = {
        f"/p/{p}/traces": "tr.trace-row",
        f"/p/{p}/traces/{site['trace_id']}": ".wf-row",
        f"/p/{p}/sessions": "main",
        f"/p/{p}/evals": "main",
        f"/p/{p}/evals/dead-letters": "main",
        f"/p/{p}/insights": ".insight-card",
        f"/p/{p}/dashboards": ".js-plotly-plot .main-svg",  # drawn by static/js/charts.js
        f"/p/{p}/review": "main",
        f"/p/{p}/review/{q}": "main",
        f"/p/{p}/review/{q}/next": "main",
        f"/p/{p}/golden-sets": "main",
        f"/p/{p}/triage": "main",
        f"/p/{p}/calibration": "main",
        f"/p/{p}/settings/keys": "main",
        "/password/": "form",
        "/api/docs": ".swagger-ui .info",
        "/admin/": "#content",
        "/admin/auth/user/": "#result_list",
    }
    refused: list[str] = []
    errors: list[str] = []
    with browser_page() as page:
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{p}/"))
        for path, ready in pages.items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_selector(ready, state="attached")
            page.wait_for_load_state("networkidle")
            assert page.evaluate("window.__csp") == [], path
            if not path.startswith(("/api/", "/admin/")):  # Peekr's own pages: base.html's nonce'd script ran
                assert page.evaluate("document.documentElement.className") == "js", path
        assert refused == [] and errors == []

        # The dashboards drew all their charts; and the policy is enforced: an injected script is refused, seen.
        page.goto(f"{live_server.url}/p/{p}/dashboards")
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6", timeout=20_000
        )
        page.evaluate("""() => { const s = document.createElement("script");
            s.textContent = "window.__injected = true"; document.body.appendChild(s); }""")
        page.wait_for_function("() => window.__csp.length > 0")
        assert page.evaluate("window.__injected") is None
        assert page.evaluate("window.__csp")[0].startswith("script-src")
