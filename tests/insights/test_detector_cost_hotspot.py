import pytest

from insights.detectors import cost_hotspot as detector
from insights.detectors.types import TraceIndex
from tests.insights.spans import TICKET, TraceBuilder


def hotspots(spans):
    return detector.detect(TraceIndex(spans))


def support_request(draft_cost: float, draft_model: str = "gpt-4o") -> TraceBuilder:
    t = TraceBuilder()
    root = t.request("POST /v1/tickets/48213/reply", dur=8.0)
    t.llm(parent=root, at=0.0, dur=1.0, user="Classify: " + TICKET, cost=0.0004, input_tokens=350, output_tokens=8)
    t.embed(parent=root, at=1.0, dur=0.2, text=TICKET)
    t.span("retrieve", at=1.2, dur=0.3, parent=root, kind="retriever", cost=None)
    t.llm(
        parent=root,
        at=1.5,
        dur=6.0,
        model=draft_model,
        user="Draft a reply using the refund policy and the customer's history...",
        cost=draft_cost,
        input_tokens=12_000,
        output_tokens=700,
    )
    t.llm(parent=root, at=7.5, dur=0.4, user="Check the reply's tone.", cost=0.0006, input_tokens=900, output_tokens=20)
    return t


def test_one_call_taking_most_of_the_cost_is_a_hotspot():
    findings = hotspots(support_request(draft_cost=0.037).spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.detector == "cost_hotspot"
    assert finding.severity == "warning"
    assert finding.operation == "chat.completions"
    assert finding.parent_operation == "POST /v1/tickets/{id}/reply"
    assert finding.span_ids == ["0000000000000005"]
    assert finding.details["share"] == pytest.approx(0.037 / 0.038)
    assert finding.message == (
        'Root cause: cost hotspot in "POST /v1/tickets/{id}/reply"\n'
        'One "chat.completions" call (gpt-4o) cost $0.0370, 97% of the trace\'s $0.0380. '
        "A smaller model, a shorter prompt or a cache here pays off most."
    )
    assert "SMALLER_MODEL" in finding.fix.snippets[0]["after"]


def test_the_same_hotspot_on_another_ticket_aggregates_under_one_signature():
    first = hotspots(support_request(draft_cost=0.037).spans)[0]
    t = support_request(draft_cost=0.052)
    second = hotspots(t.spans)[0]

    assert first.signature == second.signature


def test_cost_spread_over_calls_is_not_a_hotspot():
    assert hotspots(support_request(draft_cost=0.0008, draft_model="gpt-4o-mini").spans) == []


def test_a_trace_with_one_priced_call_has_nothing_to_compare():
    t = TraceBuilder()
    root = t.request(dur=3.0)
    t.llm(parent=root, at=0.0, dur=2.0, user=TICKET, cost=0.05)

    assert hotspots(t.spans) == []


def test_a_wrapper_repeating_its_childs_cost_is_not_counted_twice():
    t = TraceBuilder()
    root = t.request(dur=3.0)
    wrapper = t.llm(parent=root, at=0.0, dur=1.0, name="ChatOpenAI", user=TICKET, cost=0.003)
    t.llm(parent=wrapper, at=0.01, dur=0.98, user=TICKET, cost=0.003)
    t.llm(parent=root, at=1.0, dur=1.0, user="Another step", cost=0.003)

    assert hotspots(t.spans) == []  # 50% each, not 67%
