"""Every page of a seeded project in headless Chromium at 800 px (light) and 1,440 px (dark): a screenshot of each
(under the test's tmp dir), no sideways scroll of the page, the navigation folded into a menu at 800 px, and the review
queue page's side column beside its table, not over it."""

import os
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts import services as alert_services
from alerts.models import Alert, Monitor
from annotations.models import GoldenSet
from annotations.services import golden_items_promote, golden_set_create, queue_create, queue_items_add
from evals.models import EvalRule
from evals.services import trace_evaluate
from insights import services as insight_services
from insights.models import Insight
from regressions.services import regression_create
from tests.alerts.helpers import known_alert
from tests.base import make_trace
from tests.browser import browser_page
from traces.models import Trace
from traces.services import trace_settle

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (800, 1440)
LONG_INPUT = (
    "My notebook export keeps failing with a timeout whenever the attachments are bigger than two gigabytes, " * 3
)
OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"
# The widest elements that stick out of the viewport, to name the culprit when a page overflows.
CULPRITS = """() => {
  const w = window.innerWidth, out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0) out.push([el.tagName.toLowerCase() + "." + el.className, Math.round(r.right)]);
  }
  return out.slice(0, 8);
}"""


@pytest.fixture
def site(live_server, owner, project, api_key, settings):
    """Demo traffic, settled, detected and evaluated; a review queue, a golden set, monitors with an alert, a
    regression: one object of each kind so every detail page has something to show."""
    call_command("peekr_demo", endpoint=live_server.url, key=api_key, traces=25, stdout=StringIO())
    settings.PEEKR_TRACE_QUIET_SECONDS = 0
    pks = list(Trace.objects.filter(project=project).values_list("pk", flat=True))
    for pk in pks:
        trace_settle(trace_pk=pk, now=timezone.now())
        insight_services.trace_detect(trace_pk=pk)
        trace_evaluate(trace_pk=pk)
    queue = queue_create(project=project, name="Check", score_configs=[{"name": "correct", "type": "boolean"}])
    # A long input: its one-line preview in the queue's table must not push the table under the side column.
    make_trace(project, name="long question", attributes={"input.value": LONG_INPUT})
    long_pk = Trace.objects.get(project=project, name="long question").pk
    queue_items_add(queue=queue, trace_pks=[long_pk, *pks[:3]])
    golden = golden_set_create(project=project, name="Support answers")
    golden_items_promote(golden_set=golden, items_or_traces=list(Trace.objects.filter(pk__in=pks[:2])))
    alert_services.monitors_evaluate(now=timezone.now(), project=project)
    known_alert(project)
    regression_create(project=project, title="Faithfulness dropped after 2.4.1", severity="high")
    owner.is_staff = owner.is_superuser = True
    owner.save()
    return {"project": project, "queue": queue, "golden": golden}


def site_paths(site) -> list[str]:
    project = site["project"]
    p = project.pk
    trace = Trace.objects.filter(project=project).order_by("-pk").first()
    session = Trace.objects.filter(project=project).exclude(session_id="").values_list("session_id", flat=True)
    paths = [
        f"/p/{p}/traces",
        f"/p/{p}/traces/{trace.trace_id}",
        f"/p/{p}/sessions",
        f"/p/{p}/evals",
        f"/p/{p}/evals/rules/new",
        f"/p/{p}/evals/judges",
        f"/p/{p}/evals/dead-letters",
        f"/p/{p}/insights",
        f"/p/{p}/dashboards",
        f"/p/{p}/review",
        f"/p/{p}/review/{site['queue'].pk}",
        f"/p/{p}/review/{site['queue'].pk}/next",
        f"/p/{p}/golden-sets",
        f"/p/{p}/golden-sets/{site['golden'].pk}",
        f"/p/{p}/golden-sets/{site['golden'].pk}/runs",
        f"/p/{p}/triage",
        f"/p/{p}/calibration",
        f"/p/{p}/monitors",
        f"/p/{p}/monitors/{Monitor.objects.filter(project=project).first().pk}",
        f"/p/{p}/alerts",
        f"/p/{p}/alerts/{Alert.objects.filter(project=project).first().pk}",
        f"/p/{p}/channels",
        f"/p/{p}/releases",
        f"/p/{p}/regressions",
        f"/p/{p}/signals/policy",
        f"/p/{p}/settings/keys",
        f"/p/{p}/settings/members",
        f"/p/{p}/settings/audit",
        f"/p/{p}/settings/privacy",
        f"/p/{p}/settings/retention",
        "/settings/tokens",
        "/projects/new",
        "/password/",
    ]
    if session:
        paths.append(f"/p/{p}/sessions/{session[0]}")
    if rule := EvalRule.objects.filter(project=project).first():
        paths.append(f"/p/{p}/evals/rules/{rule.pk}")
    if insight := Insight.objects.filter(project=project).first():
        paths.append(f"/p/{p}/insights/{insight.pk}")
    from regressions.models import Regression

    paths.append(f"/p/{p}/regressions/{Regression.objects.filter(project=project).first().pk}")
    assert GoldenSet.objects.filter(project=project).count() == 1
    return paths


def login(page, live_server, project) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"/p/{project.pk}/"))


def test_every_page_fits_800_and_1440_pixels(live_server, site, tmp_path):
    paths = site_paths(site)
    overflowing: dict[str, list] = {}
    errors: list[str] = []
    for width in WIDTHS:
        with browser_page(width=width, height=900) as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.emulate_media(color_scheme="dark" if width == 1440 else "light")  # screenshots of both themes
            login(page, live_server, site["project"])
            for path in paths:
                response = page.goto(f"{live_server.url}{path}")
                assert response.status == 200, path
                page.wait_for_load_state("networkidle")
                name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
                page.screenshot(path=str(tmp_path / f"{width}-{name}.png"), full_page=True)
                scroll_width, inner_width = page.evaluate(OVERFLOW)
                if scroll_width > inner_width:
                    overflowing[f"{width} {path}"] = [scroll_width, page.evaluate(CULPRITS)]
    assert overflowing == {}
    assert errors == []


def test_the_navigation_folds_into_a_menu_at_800_pixels(live_server, owner, project, tmp_path):
    with browser_page(width=800, height=700) as page:
        login(page, live_server, project)
        members = page.locator("nav.tabs-nav a:has-text('Members')")
        assert not members.is_visible()
        page.click("button.nav-toggle")
        assert members.is_visible()
        page.screenshot(path=str(tmp_path / "menu-open.png"))
        members.click()
        page.wait_for_url(re.compile(r"/settings/members$"))
        assert not page.locator("nav.tabs-nav a:has-text('Traces')").is_visible()  # closed again on the new page
    with browser_page(width=1440, height=900) as page:
        login(page, live_server, project)
        assert page.locator("nav.tabs-nav a:has-text('Members')").is_visible()  # no menu to open
        assert not page.locator("button.nav-toggle").is_visible()


def test_the_review_queue_side_column_does_not_cover_its_table(live_server, site):
    p, q = site["project"].pk, site["queue"].pk
    with browser_page(width=1440, height=900) as page:
        login(page, live_server, site["project"])
        page.goto(f"{live_server.url}/p/{p}/review/{q}")
        assert page.locator("table.queue-items .preview", has_text="My notebook export").count() == 1
        table = page.locator("table.queue-items").bounding_box()
        side = page.locator(".two-col > .stack").nth(1).bounding_box()
        assert table["x"] + table["width"] <= side["x"]
