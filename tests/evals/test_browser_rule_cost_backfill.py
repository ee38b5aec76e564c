"""In headless Chromium: a judge rule's projected cost follows the form before saving; a backfill's progress bar
moves to done in the real worker, and its cancel button stops one."""

import os
import time

import pytest
from django.utils import timezone

from evals.models import Backfill, EvalRule
from tests.base import hex_id, llm_attributes, make_raw_span, make_rubric_rule
from tests.browser import browser_page, login, screenshot
from tests.fake_openai import FakeOpenAI
from traces.models import Trace
from traces.services import spans_ingest

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

N_TRACES = 12


def stored_traffic(project, n: int = N_TRACES) -> None:
    for i in range(n):
        trace_id = hex_id(16)
        root = make_raw_span(trace_id=trace_id, name="answer", start=time.time() - 600, duration=2.0)
        llm = make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, name="chat gpt-4o-mini", kind=3,
                            start=time.time() - 599.5, duration=1.0,
                            attributes=llm_attributes(prompt=f"Question {i}: where is the Louvre?"))  # fmt: skip
        spans_ingest(project=project, raws=[root, llm])
    Trace.objects.filter(project=project).update(completed_at=timezone.now())
    project.price_overrides = {"judge-model": {"input": 100.0, "output": 200.0}}
    project.save(update_fields=["price_overrides"])


def monthly(page) -> float:
    return float(page.get_attribute("#cost-preview [data-monthly]", "data-monthly"))


def test_the_projected_cost_appears_and_follows_the_sample_rate_before_saving(live_server, owner, project, settings):
    settings.PEEKR_JUDGE_MODEL = "judge-model"
    stored_traffic(project)
    errors: list[str] = []
    with browser_page(height=1400) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, live_server, f"/p/{project.pk}/evals/rules/new")
        page.fill("input[name=name]", "polite answers")
        page.select_option("select[name=filter_kind]", "llm")
        page.check("input[name=evaluators][value=rubric]")
        page.fill("textarea[name=rubric_criteria]", "Polite and on topic.")
        # The preview follows each change: wait for the one that counts the rubric judge (a loaded machine may
        # still show the one drawn before the evaluator was ticked, with no judge and $0).
        page.wait_for_function(
            "() => { const el = document.querySelector('#cost-preview [data-monthly]');"
            " return el && parseFloat(el.dataset.monthly) > 0; }"
        )
        full = monthly(page)
        assert full > 0
        assert "per judgement ×" in page.inner_text("#cost-preview .cost-arithmetic")
        page.fill("input[name=sample_rate]", "10")
        page.wait_for_function(
            "(full) => { const el = document.querySelector('#cost-preview [data-monthly]');"
            " return el && Math.abs(parseFloat(el.dataset.monthly) - full / 10) < full / 1000; }",
            arg=full,
        )
        tenth = monthly(page)
        screenshot(page, "rule-projected-cost.png", full_page=True)
    assert tenth == pytest.approx(full / 10, rel=0.01)
    assert not EvalRule.objects.filter(project=project, name="polite answers").exists()  # nothing saved
    assert not errors


@pytest.fixture
def one_trace_per_batch(monkeypatch):
    monkeypatch.setenv("PEEKR_BACKFILL_BATCH", "1")  # read by the worker started after this fixture


def progress(page) -> tuple[str, int, int]:
    row = page.locator("tr.backfill-row").first
    return row.get_attribute("data-status"), int(row.get_attribute("data-done")), int(row.get_attribute("data-total"))


@pytest.mark.worker
def test_a_backfill_progress_bar_moves_to_done_and_cancel_stops_another(
    one_trace_per_batch, live_server, owner, project, celery_worker_process
):
    stored_traffic(project)
    with FakeOpenAI(answer='{"score": 4, "reason": "Fine."}', delay=0.2) as judge:
        rule = make_rubric_rule(project, judge)
        rule_path = f"/p/{project.pk}/evals/rules/{rule.pk}"
        seen: list[tuple[str, int, int]] = []
        with browser_page(height=1400) as page:
            login(page, live_server, rule_path)
            page.click("[data-backfill-start]")
            page.wait_for_selector("tr.backfill-row")
            deadline = time.time() + 90
            while time.time() < deadline:
                seen.append(progress(page))
                if seen[-1][0] == "done":
                    break
                time.sleep(0.3)
            bar = page.locator("tr.backfill-row progress").first
            assert bar.get_attribute("value") == bar.get_attribute("max") == str(N_TRACES)
            assert "12 / 12 traces" in page.inner_text("tr.backfill-row")
            screenshot(page, "rule-backfill-done.png", full_page=True)

            # A second run, cancelled from the page before it gets far.
            page.click("[data-backfill-start]")
            page.wait_for_selector("tr.backfill-row [data-backfill-cancel]")
            page.click("tr.backfill-row [data-backfill-cancel]")
            page.wait_for_selector('tr.backfill-row[data-status="cancelled"]')
            time.sleep(3)  # more batches would have run by now
            page.reload()
            _, done_after, total = progress(page)
    assert seen[-1] == ("done", N_TRACES, N_TRACES)
    assert any(status in ("queued", "running") and done < total for status, done, total in seen), seen
    assert len({done for _, done, _ in seen}) >= 3, seen  # it moved, in steps
    cancelled = Backfill.objects.filter(rule=rule).order_by("-pk").first()
    assert cancelled.status == "cancelled"
    assert cancelled.done == done_after < total
