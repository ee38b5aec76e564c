import pytest

from insights.detectors import duplicate_calls as detector
from insights.detectors.types import TraceIndex
from tests.insights.spans import TICKET, TraceBuilder

SYSTEM = "Classify the support ticket: priority P1-P4 and product area."


def duplicates(spans):
    return detector.detect(TraceIndex(spans))


def test_the_same_prompt_sent_twice_is_a_duplicate():
    t = TraceBuilder()
    root = t.request(dur=6.0)
    t.llm(parent=root, at=0.0, dur=1.9, system=SYSTEM, user=TICKET, output="P2 | Billing", cost=0.0021)
    t.span("route_ticket", at=2.0, dur=0.1, parent=root)
    again = t.llm(parent=root, at=2.2, dur=2.1, system=SYSTEM, user=TICKET, output="P2 | Billing", cost=0.0021)

    findings = duplicates(t.spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.detector == "duplicate_calls"
    assert finding.operation == "chat.completions"
    assert finding.saving_ms == pytest.approx(2100)
    assert finding.saving_usd == pytest.approx(0.0021)
    assert finding.details["repeats"] == 1
    assert again.span_id in finding.span_ids
    assert finding.message == (
        'Root cause: duplicate calls to "chat.completions"\n'
        "The same prompt was sent 2 times in this trace. Reusing the first answer would save 2.1s and $0.0021."
    )
    assert "functools.lru_cache" in finding.fix.snippets[0]["after"]


def test_the_same_text_embedded_twice_is_a_duplicate():
    t = TraceBuilder()
    root = t.request(dur=2.0)
    t.embed(parent=root, at=0.0, dur=0.3, text=TICKET)
    t.embed(parent=root, at=1.0, dur=0.3, text=TICKET)

    assert [f.operation for f in duplicates(t.spans)] == ["embeddings"]


def test_different_prompts_are_not_duplicates():
    t = TraceBuilder()
    root = t.request(dur=6.0)
    t.llm(parent=root, at=0.0, dur=1.9, system=SYSTEM, user=TICKET)
    t.llm(parent=root, at=2.0, dur=1.9, system=SYSTEM, user=TICKET + " Also, my invoice shows the wrong VAT number.")

    assert duplicates(t.spans) == []


def test_the_same_prompt_to_two_models_is_a_comparison_not_a_duplicate():
    t = TraceBuilder()
    root = t.request(dur=6.0)
    t.llm(parent=root, at=0.0, dur=1.9, system=SYSTEM, user=TICKET, model="gpt-4o-mini")
    t.llm(parent=root, at=0.0, dur=2.9, system=SYSTEM, user=TICKET, model="gpt-4o")

    assert duplicates(t.spans) == []


def test_one_call_recorded_by_two_instrumentations_is_not_a_duplicate():
    t = TraceBuilder()
    root = t.request(dur=3.0)
    outer = t.llm(parent=root, at=0.0, dur=2.0, name="ChatOpenAI", system=SYSTEM, user=TICKET)
    t.llm(parent=outer, at=0.01, dur=1.98, name="openai.chat.completions", system=SYSTEM, user=TICKET)

    assert duplicates(t.spans) == []


def test_a_retry_after_a_failure_is_not_a_duplicate():
    t = TraceBuilder()
    root = t.request(dur=4.0)
    t.llm(parent=root, at=0.0, dur=0.5, system=SYSTEM, user=TICKET, status="error", error="APITimeoutError")
    t.llm(parent=root, at=1.0, dur=1.9, system=SYSTEM, user=TICKET, output="P2 | Billing")

    assert duplicates(t.spans) == []
