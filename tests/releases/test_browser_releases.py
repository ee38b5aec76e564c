"""The Releases page in headless Chromium: production and shadow releases, the compare form swapping in the table
and the verdict with htmx, and shadow answers side by side with their production twins, both with scores."""

import json
import os
import time

import pytest
from django.utils import timezone

from tests.base import make_blocking, make_raw_span
from tests.browser import browser_page, login, screenshot
from traces.models import Trace
from traces.pipeline import pipeline_run
from traces.services import spans_ingest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def answer(project, *, release: str, key: str, text: str, start: float, shadow: bool = False) -> None:
    """An answer (root + chat call asked for JSON), resource service.version, paired by peekr.request_key."""
    root_attrs = {"peekr.request_key": key, **({"peekr.traffic": "shadow"} if shadow else {})}
    root = make_raw_span(name="answer_question", start=start, duration=1.0, attributes=root_attrs)
    chat = make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, name="chat gpt-4o-mini", kind=3,
                         start=start + 0.1, duration=0.8, attributes={
                             "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                             "gen_ai.output.type": "json", "gen_ai.usage.input_tokens": 10,
                             "gen_ai.usage.output_tokens": 5,
                             "gen_ai.output.messages": json.dumps(
                                 [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]),
                         })  # fmt: skip
    for span in (root, chat):
        span.resource = {"service.name": "support-bot", "service.version": release}
    spans_ingest(project=project, raws=[root, chat])


def test_the_releases_page_compares_and_shows_shadow_pairs(live_server, owner, project):
    make_blocking(project, "json_valid")
    start = time.time() - 3600
    for i in range(3):
        answer(project, release="1.0", key=f"req-{i}", text='{"answer": "ships tomorrow"}', start=start + i)
        answer(project, release="2.0", key=f"req-{i}", text='{"answer": "ships today"' if i == 1 else
               '{"answer": "ships today"}', start=start + i + 0.5, shadow=True)  # fmt: skip
    Trace.objects.update(completed_at=timezone.now())
    pipeline_run(trace_pks=list(Trace.objects.values_list("pk", flat=True)))

    errors: list[str] = []
    with browser_page(height=1100) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        login(page, live_server, f"/p/{project.pk}/releases")
        assert page.locator("tr[data-release='1.0'] td.num").first.inner_text() == "3"
        assert page.locator("tr[data-release='2.0'] td.num").nth(1).inner_text() == "3"  # shadow traces

        pairs = page.locator("#shadow-pairs tr[data-request-key]")
        assert pairs.count() == 3
        broken = page.locator("#shadow-pairs tr[data-request-key='req-1']")
        assert "ships tomorrow" in broken.locator("td.production").inner_text()
        assert "ships today" in broken.locator("td.shadow").inner_text()
        assert broken.locator("td.production [data-score='json_valid']").inner_text().startswith("json_valid 1.00")
        assert broken.locator("td.shadow .score.failed[data-score='json_valid']").count() == 1

        page.select_option("select[name=baseline]", "1.0")
        page.select_option("select[name=candidate]", "2.0")
        page.select_option("select[name=window]", "24h")
        page.click("#compare button[type=submit]")
        verdict = page.locator("#comparison [data-verdict]")
        verdict.wait_for()
        assert verdict.get_attribute("data-verdict") == "fail"
        assert "1 of 3 scored answers failed json_valid" in verdict.inner_text()
        assert "(shadow)" in page.locator("#comparison thead").inner_text()
        assert page.locator("#comparison tr[data-metric='pass:json_valid'] .badge").inner_text() == "blocking"
        assert "candidate=2.0" in page.url  # the comparison has an address
        screenshot(page, "releases_compare_shadow.png", full_page=True)
    assert not errors, errors
