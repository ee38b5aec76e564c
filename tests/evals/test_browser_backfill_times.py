"""In headless Chromium in Paris (UTC+1 in winter): a backfill's range is typed and shown in the viewer's time zone,
as the trace list's picker is, and stored in UTC; without a browser zone the form reads UTC, as before."""

import os
from datetime import UTC, datetime

import pytest

from evals.models import Backfill
from evals.views import BackfillForm
from tests.base import make_rubric_rule
from tests.browser import browser_page, login
from tests.fake_openai import FakeOpenAI

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_range_is_typed_and_shown_in_the_viewers_time_zone(live_server, owner, project):
    with FakeOpenAI(answer='{"score": 4, "reason": "Fine."}') as judge:
        rule = make_rubric_rule(project, judge)
        path = f"/p/{project.pk}/evals/rules/{rule.pk}"
        with browser_page(height=1400, timezone_id="Europe/Paris") as page:
            login(page, live_server, path)
            # The default range ends now: shown in Paris, an hour ahead of UTC.
            shown_end = datetime.fromisoformat(page.input_value("input[name=end]"))
            utc_now = datetime.now(UTC).replace(tzinfo=None)
            assert abs((shown_end - utc_now).total_seconds() - 3600) < 120, (shown_end, utc_now)

            page.fill("input[name=start]", "2026-11-30T10:00")
            page.fill("input[name=end]", "2026-11-30T12:30")
            page.click("[data-backfill-start]")
            page.wait_for_selector("tr.backfill-row")
            job = Backfill.objects.get(rule=rule)
            assert job.start == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
            assert job.end == datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
            first = page.locator("tr.backfill-row time.utc-stamp").first
            assert first.inner_text() == "2026-11-30 10:00"
            assert first.get_attribute("title") == "2026-11-30 09:00 UTC"


def test_without_a_zone_the_form_reads_utc_and_a_bad_zone_is_utc_too():
    for tz in ("", "Not/AZone"):
        form = BackfillForm(data={"start": "2026-11-30T10:00", "end": "2026-11-30T12:00", "tz": tz})
        assert form.is_valid(), form.errors
        assert form.cleaned_data["start"] == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    form = BackfillForm(data={"start": "2026-07-01T10:00", "end": "2026-07-01T12:00", "tz": "America/New_York"})
    assert form.is_valid()
    assert form.cleaned_data["start"] == datetime(2026, 7, 1, 14, 0, tzinfo=UTC)  # EDT, UTC-4
