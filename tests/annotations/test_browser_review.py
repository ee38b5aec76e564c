"""A reviewer works through a queue in headless Chromium with the keyboard only, and promotes one case."""

import os
import re
import time

import pytest

from annotations import services
from annotations.models import Annotation, GoldenSet, Queue, QueueItem
from evals.models import Score
from evals.services import span_write_back
from tests.base import llm_attributes, make_project, make_raw_span, make_trace, make_user
from tests.browser import browser_page, screenshot
from traces.models import Membership, Role, Span, Trace
from traces.services import spans_ingest

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTIONS = [
    ("refund question", "Can I get a refund on my annual plan?", "Refunds are accepted within 90 days, in cash."),
    ("shipping question", "When will parcel 77 arrive?", "It arrived yesterday."),
    ("order lookup", "What is the status of order 1234?", "I cannot look up orders."),
]
DOCS = {
    "refund question": ["Annual plans can be refunded within 30 days of purchase.", "Refunds go to the original card."],
    "shipping question": ["Parcels ship within 2 business days."],
    "order lookup": ["Use lookup_order to read an order's status.", "Orders ship from Lyon."],
}
EXPECTED = [
    "Annual plans can be refunded within 30 days, to the original card.",
    "Parcel 77 ships within 2 business days.",
    "Order 1234 was delivered 6 days ago.",
]


def support_trace(project, name: str, question: str, answer: str, start: float) -> Trace:
    """make_trace's root + chat calls, plus a retriever span holding the documents the answer used."""
    trace_id, spans = make_trace(project, name=name, start=start, n_llm=1, attributes={"input.value": question})
    root = spans[0]
    attributes = {"openinference.span.kind": "RETRIEVER", "input.value": question}
    for i, doc in enumerate(DOCS[name]):
        attributes[f"retrieval.documents.{i}.document.id"] = f"doc-{i + 1}"
        attributes[f"retrieval.documents.{i}.document.content"] = doc
    retriever = make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, name="search policies",
                              start=start + 0.02, duration=0.06, attributes=attributes)  # fmt: skip
    answer_span = make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, name="chat answer", kind=3,
                                start=start + 1.2, duration=0.8,
                                attributes=llm_attributes(prompt=question, answer=answer))  # fmt: skip
    spans_ingest(project=project, raws=[retriever, answer_span])
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    llm = Span.objects.get(trace=trace, name="chat answer")
    # A judge said the answer was not faithful: the reviewer sees its claims and verdicts.
    Score.objects.create(
        project=project, trace=trace, span=llm, target_key=f"span:{llm.pk}", evaluator="faithfulness",
        judge_model="judge-model", source=Score.Source.JUDGE, status=Score.Status.DONE, value=0.5, passed=False,
        explanation="One of two claims is not supported by the retrieved documents.",
        details={"claims": [
            {"claim": question.rstrip("?"), "verdict": "supported", "reason": "The question itself."},
            {"claim": answer, "verdict": "unsupported", "reason": "No document says so."},
        ]},
    )  # fmt: skip
    span_write_back(span_pks=[llm.pk])
    return trace


@pytest.fixture
def review_setup(transactional_db):
    reviewer = make_user("rita")
    project, _ = make_project("support-bot", owner=reviewer, role="reviewer")
    now = time.time()
    traces = [support_trace(project, name, q, a, now - 600 + i * 60) for i, (name, q, a) in enumerate(QUESTIONS)]
    queue = services.queue_create(
        project=project,
        name="Unfaithful answers",
        score_configs=[{"name": "correct", "type": "boolean"}, {"name": "quality", "type": "numeric", "min": 1,
                                                                 "max": 5}],
    )  # fmt: skip
    items = services.queue_items_add(queue=queue, trace_pks=[t.pk for t in traces], reason="faithfulness < 0.7")
    golden = services.golden_set_create(project=project, name="Support regressions")
    return {"reviewer": reviewer, "project": project, "traces": traces, "queue": queue, "items": items,
            "golden": golden}  # fmt: skip


def wait_for_item(page, item) -> None:
    page.wait_for_selector(f"#review[data-item='{item.pk}'] form.review-form")


def test_a_reviewer_works_through_three_items_with_the_keyboard_and_promotes_one(live_server, review_setup):
    s = review_setup
    project, queue, items = s["project"], s["queue"], s["items"]
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "rita")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/review$"), wait_until="commit")  # a reviewer lands on review

        # The queue list: open the queue (a reviewer sees it, without the "New queue" form).
        page.goto(f"{live_server.url}/p/{project.pk}/review")
        assert page.locator("form.queue-form").count() == 0
        row = page.locator("tr.queue-row", has_text="Unfaithful answers")
        assert row.locator(".done-total").inner_text() == "0/3"
        row.locator("a:has-text('Start reviewing')").click()
        page.wait_for_url(re.compile(rf"/review/items/{items[0].pk}$"))
        wait_for_item(page, items[0])
        # The whole trace is on the page: waterfall, input, output, context, the judge's claims.
        assert page.locator(".wf-row").count() == 4
        assert "Annual plans can be refunded within 30 days" in page.locator(".case-context").inner_text()
        assert page.locator(".case-scores table.claims tr.claim.unsupported").count() == 1
        assert "item 1 of 3" in page.locator(".review-head .crumbs").inner_text()

        # Item 1: "1" toggles hallucination, "e" opens the expected output, Ctrl+Enter completes it.
        page.keyboard.press("1")
        assert page.is_checked("input[name=labels][data-key='1']")
        page.keyboard.press("e")
        assert page.evaluate("document.activeElement.name") == "expected_output"
        page.keyboard.type(EXPECTED[0])
        screenshot(page, "review_item.png")
        page.keyboard.press("Control+Enter")
        wait_for_item(page, items[1])
        page.wait_for_url(re.compile(rf"/review/items/{items[1].pk}$"))
        assert "1/3 done" in page.locator(".review-head .queue-done").inner_text()

        # Item 2: "3" (context loss) twice and once more (toggles), Esc leaves the text box, Enter completes.
        page.keyboard.press("3")
        page.keyboard.press("3")
        page.keyboard.press("3")
        assert page.is_checked("input[name=labels][data-key='3']")
        page.keyboard.press("e")
        page.keyboard.type(EXPECTED[1])
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        wait_for_item(page, items[2])

        # Item 3: k goes back to item 2 (already reviewed), j returns; then "2", "p" promotes, Ctrl+Enter.
        page.keyboard.press("k")
        page.wait_for_selector(f"#review[data-item='{items[1].pk}'] .reviewed")
        page.keyboard.press("j")
        wait_for_item(page, items[2])
        page.keyboard.press("2")
        page.keyboard.press("p")
        assert page.is_checked("input[name=promote]")
        page.keyboard.press("e")
        page.keyboard.type(EXPECTED[2])
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("#review h1:has-text('Nothing left for you')")
        page.wait_for_url(re.compile(rf"/review/{queue.pk}/next$"))
        assert "3/3 done" in page.locator("#review .queue-done").inner_text()
        assert "Promoted to “Support regressions” (version 1)" in page.locator("#review .messages").inner_text()
        screenshot(page, "review_done.png")

        # The queue's page: everything reviewed, flagged items grouped by failure pattern.
        page.goto(f"{live_server.url}/p/{project.pk}/review/{queue.pk}")
        assert page.locator(".promote-step .group").count() == 3
        screenshot(page, "review_queue.png", full_page=True)

        # The golden set: version 1 with the promoted case and its context.
        page.goto(f"{live_server.url}/p/{project.pk}/golden-sets")
        page.click("a:has-text('Support regressions')")
        page.wait_for_selector("tr.golden-item")
        assert page.locator("tr.golden-item").count() == 1
        assert "Use lookup_order to read an order's status." in page.locator("tr.golden-item").inner_text()
        assert page.locator("#added-quarter").inner_text() == "1"
        screenshot(page, "golden_set.png", full_page=True)

        page.goto(f"{live_server.url}/p/{project.pk}/calibration")
        faith = page.locator("tr.cal-row[data-evaluator=faithfulness]")
        assert "needs 47 more labelled item(s)" in faith.locator(".gate").inner_text()
        screenshot(page, "calibration.png", full_page=True)

    assert errors == []

    # What is stored: three reviews with their labels and expected outputs, every item completed,
    # and one golden version holding the promoted trace's context.
    annotations = list(Annotation.objects.filter(item__queue=queue).order_by("item__created_at", "item_id"))
    assert [a.labels for a in annotations] == [["hallucination"], ["context loss"], ["wrong tool call"]]
    assert [a.expected_output for a in annotations] == EXPECTED
    assert {a.reviewer.username for a in annotations} == {"rita"}
    assert set(QueueItem.objects.filter(queue=queue).values_list("status", flat=True)) == {"completed"}
    version = GoldenSet.objects.get(pk=s["golden"].pk).versions.get()
    assert version.number == 1
    (case,) = version.items.all()
    assert case.source_trace_id == s["traces"][2].trace_id
    assert [d["content"] for d in case.context] == DOCS["order lookup"]
    assert case.expected_output == EXPECTED[2] and case.labels == ["wrong tool call"]


def test_an_owner_sets_up_a_queue_and_fills_it_from_the_trace_list_and_triage(live_server, review_setup):
    s = review_setup
    project = s["project"]
    Membership.objects.create(project=project, user=make_user("olga"), role=Role.OWNER)
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/traces$"))

        # A new queue with scores, then a routing rule.
        page.click("nav.tabs-nav a:has-text('Review')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/review$"))
        page.fill("input[name=name]", "Tool mistakes")
        page.fill("textarea[name=score_configs]", "correct: boolean\ntone: categorical: friendly, neutral, rude")
        page.click("button:has-text('Create queue')")
        page.wait_for_url(re.compile(r"/review/\d+$"))
        page.select_option("select[name=kind]", "score_below")
        page.fill("input[name=evaluator]", "tool_selection_accuracy")
        page.fill("input[name=threshold]", "0.5")
        page.click("button:has-text('Add rule')")
        page.wait_for_selector("li.routing-rule:has-text('score tool_selection_accuracy < 0.5')")

        # Two traces ticked on the trace list, added in bulk; one more from its trace page.
        page.click("nav.tabs-nav a:has-text('Traces')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/traces$"))
        page.wait_for_selector("#add-to-queue-bulk select[name=queue]")
        page.select_option("#add-to-queue-bulk select[name=queue]", label="Tool mistakes")
        boxes = page.locator("tr.trace-row td.pick input[type=checkbox]")
        boxes.nth(0).check()
        boxes.nth(1).check()
        screenshot(page, "trace_list_add.png")
        page.click("#add-to-queue-bulk button")
        page.wait_for_selector(".msg:has-text('Added 2 traces to “Tool mistakes”')")
        page.locator("tr.trace-row .trace-name").nth(2).click()
        page.wait_for_selector("#add-to-queue select[name=queue]")
        page.select_option("#add-to-queue select[name=queue]", label="Tool mistakes")
        screenshot(page, "trace_add_to_queue.png")
        page.click("#add-to-queue button")
        page.wait_for_selector(".msg:has-text('Added 1 trace to “Tool mistakes”')")

        page.click("nav.tabs-nav a:has-text('Review')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/review$"))
        row = page.locator("tr.queue-row", has_text="Tool mistakes")
        assert row.locator(".done-total").inner_text() == "0/3"
        screenshot(page, "review_queues.png")

        # Triage: the three judged traces, one click into the golden set.
        page.click("nav.tabs-nav a:has-text('Triage')")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/triage$"))
        rows = page.locator("tr.triage-row")
        assert rows.count() == 3
        rows.first.locator("form.promote-trace button").click()
        page.wait_for_selector(".msg:has-text('Promoted to “Support regressions” (version 1)')")
        screenshot(page, "triage.png")

    assert errors == []
    queue = Queue.objects.get(project=project, name="Tool mistakes")
    assert queue.items.count() == 3 and queue.routing_rules.get().params == {
        "evaluator": "tool_selection_accuracy",
        "threshold": 0.5,
    }
    assert GoldenSet.objects.get(pk=s["golden"].pk).versions.get().items.count() == 1
