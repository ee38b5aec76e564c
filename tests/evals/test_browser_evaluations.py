"""The Evaluations page and a judge's claims in headless Chromium: log in, read the rules, open a judged span."""

import os
import re
import time
from datetime import date

import pytest

from evals import services
from evals.models import JudgeCall, Score
from tests.base import llm_attributes, make_raw_span
from tests.browser import browser_page, screenshot
from traces.models import Span, Trace
from traces.services import spans_ingest

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLAIMS = [
    {
        "claim": "Annual plans can be refunded within 30 days.",
        "verdict": "supported",
        "reason": "Policy doc d1 says so.",
    },
    {
        "claim": "Refunds are paid out within 24 hours.",
        "verdict": "unsupported",
        "reason": "No document mentions how fast refunds are paid.",
    },
]


def rag_trace(project, *, name: str, start: float) -> tuple[Trace, dict[str, Span]]:
    """root -> retriever -> chat answer, stored through ingestion."""
    root = make_raw_span(name=name, start=start, duration=2.2)
    tid = root.trace_id
    retriever = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="retrieve policy",
        start=start + 0.1,
        duration=0.3,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "retrieval.documents.0.document.id": "d1",
            "retrieval.documents.0.document.content": "Annual plans can be refunded within 30 days of purchase.",
        },
    )
    llm = make_raw_span(
        trace_id=tid,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        kind=3,
        start=start + 0.5,
        duration=1.5,
        attributes=llm_attributes(
            prompt="Can I get a refund on my annual plan?",
            answer="Yes: annual plans can be refunded within 30 days, and refunds are paid out within 24 hours.",
        ),
    )
    spans_ingest(project=project, raws=[root, retriever, llm])
    trace = Trace.objects.get(project=project, trace_id=tid)
    by_name = {s.name: s for s in Span.objects.filter(trace=trace)}
    return trace, {"root": by_name[name], "retriever": by_name["retrieve policy"], "llm": by_name["chat gpt-4o-mini"]}


def judged(trace, span, rule, *, value, passed, details=None, cost=0.0011, status="done", error=""):
    score = Score.objects.create(
        project_id=trace.project_id,
        trace=trace,
        span=span,
        target_key=f"span:{span.pk}",
        evaluator="faithfulness",
        judge_model="judge-model",
        rule=rule,
        source=Score.Source.JUDGE,
        status=status,
        value=value,
        passed=passed,
        details=details or {},
        error=error,
        cost=cost,
    )
    if status == "done":
        JudgeCall.objects.create(project_id=trace.project_id, rule=rule, score=score, model="judge-model", cost=cost,
                                 day=date.today())  # fmt: skip
    services.span_write_back(span_pks=[span.pk])
    return score


@pytest.fixture
def evaluated(transactional_db, project, settings):
    settings.PEEKR_JUDGE_BASE_URL = "http://127.0.0.1:9/v1"
    settings.PEEKR_JUDGE_MODEL = "judge-model"
    now = time.time()
    services.rules_for_project(project=project)  # the built-in rule first
    faithfulness = services.eval_rule_create(
        project=project,
        name="RAG faithfulness",
        evaluators=["faithfulness"],
        filter={"kind": "llm", "name": "chat*"},
        sample_rate=0.1,
        triggers=["thumbs_down"],
    )
    rubric = services.eval_rule_create(
        project=project,
        name="Support tone rubric",
        evaluators=["rubric"],
        config={"rubric": {"criteria": "Polite and concise.", "scale": {"min": 1, "max": 5}, "pass_threshold": 4}},
    )
    services.eval_rule_pause(
        rule=rubric,
        reason="judge endpoint refused the key (401 Unauthorized); rule paused: fix PEEKR_JUDGE_API_KEY and resume it",
    )
    services.eval_rule_create(project=project, name="Agent tools", evaluators=["tool_allowed", "max_turns"],
                              config={"allowed_tools": ["search_kb"]})  # fmt: skip
    for i in range(6):
        trace, spans = rag_trace(project, name=f"earlier question {i}", start=now - 3600 * (i + 1))
        judged(trace, spans["llm"], faithfulness, value=1.0, passed=True)
    trace, spans = rag_trace(project, name="timeout question", start=now - 300)
    timed_out = judged(trace, spans["llm"], faithfulness, value=None, passed=None, status="error",
                       error="judge unavailable after 4 attempt(s): 503 Service Unavailable")  # fmt: skip
    Score.objects.filter(pk=timed_out.pk).update(attempts=4)
    trace, spans = rag_trace(project, name="refund question", start=now - 120)
    judged(trace, spans["llm"], faithfulness, value=0.5, passed=False,
           details={"claims": CLAIMS, "supported": 1, "total": 2})  # fmt: skip
    return {"project": project, "trace": trace, "llm": spans["llm"]}


def test_a_user_reads_the_evaluations_and_a_judges_claims(live_server, owner, evaluated):
    project, trace, llm = evaluated["project"], evaluated["trace"], evaluated["llm"]
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/traces$"))
        # The trace list's Scores column: the refund question failed one of its one evaluation.
        first = page.locator("tr.trace-row").first
        assert first.locator(".trace-name").inner_text() == "refund question"
        assert first.locator(".scores-cell .badge.sc-fail").inner_text() == "1 failed / 1"

        screenshot(page, "scores-list.png")

        page.click("nav.tabs-nav a:has-text('Evaluations')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/evals$"))
        rows = page.locator("tr.rule-row")
        assert rows.count() == 4
        assert rows.first.locator(".badge.muted").inner_text() == "built-in"
        faith = page.locator("tr.rule-row", has_text="RAG faithfulness")
        assert "7 done" in faith.locator(".executions").inner_text()
        assert "1 error" in faith.locator(".executions").inner_text()
        projection = faith.locator(".projection").inner_text()  # 8 traces this week: 1.14/day
        assert projection.startswith("at 10% of 1.14/day this rule costs about $")
        paused = page.locator("tr.rule-row", has_text="Support tone rubric")
        assert "refused the key (401 Unauthorized)" in paused.locator(".paused-reason").inner_text()
        assert page.locator(".banner.paused").is_visible()
        screenshot(page, "evaluations.png", full_page=True)

        # The dead letters: the judge call that kept failing, with a Retry button.
        page.click("a.btn:has-text('Dead letters')")
        page.wait_for_url(re.compile(r"/evals/dead-letters$"))
        letter = page.locator("table.dead-letters tbody tr")
        assert letter.count() == 1
        assert "503 Service Unavailable" in letter.locator(".error-text").inner_text()
        assert letter.locator("button:has-text('Retry')").is_visible()
        screenshot(page, "dead-letters.png")
        page.go_back()

        # The rule's page: its form is filled in, its latest scores link to their traces.
        faith.locator(".rule-name a").click()
        page.wait_for_url(re.compile(r"/evals/rules/\d+$"))
        assert page.input_value("input[name=name]") == "RAG faithfulness"
        assert page.is_checked("input[name=evaluators][value=faithfulness]")
        screenshot(page, "evaluation-rule.png", full_page=True)
        page.click("table.scores-table a:has-text('refund question')")
        page.wait_for_url(re.compile(rf"{trace.trace_id}\?span={llm.span_id}$"))

        # The waterfall badges the judged span; its Scores tab lists the claims with their verdicts.
        row = page.locator(f".wf-row[href='?span={llm.span_id}']")
        assert row.locator(".wf-score.fail").inner_text() == "✗ 1"
        page.click(f".wf-row[href='?span={evaluated['trace'].root_span_id}']")
        page.wait_for_selector(f".span-detail[data-span='{trace.root_span_id}']")
        row.click()
        page.wait_for_selector(f".span-detail[data-span='{llm.span_id}']")
        page.click(".tabbar .tab[data-tab=scores]")
        claims = page.locator(".pane.active table.claims tbody tr")
        assert claims.count() == 2
        assert claims.nth(0).get_attribute("class") == "claim supported"
        assert claims.nth(0).locator(".verdict").inner_text() == "supported"
        assert claims.nth(1).get_attribute("class") == "claim unsupported"
        assert "No document mentions how fast refunds are paid." in claims.nth(1).inner_text()
        # Supported in green, unsupported in red.
        colour = "el => getComputedStyle(el).color"
        assert claims.nth(0).locator(".verdict").evaluate(colour) == "rgb(26, 127, 71)"
        assert claims.nth(1).locator(".verdict").evaluate(colour) == "rgb(200, 40, 46)"
        screenshot(page, "claims.png")

    assert errors == []
