import pytest

from insights.detectors import context_growth as detector
from insights.detectors.types import TraceIndex
from tests.insights.spans import TraceBuilder

SYSTEM = "You are a coding agent. Use read_file and run_tests until the tests pass."


def growth(spans):
    return detector.detect(TraceIndex(spans))


def coding_agent(tokens: list[int], *, continue_history: bool = True) -> TraceBuilder:
    """An agent loop: each step re-sends the history, plus the last file it read."""
    t = TraceBuilder(service="coding-agent")
    root = t.span("invoke_agent coder", at=0.0, dur=len(tokens) * 3.0, kind="agent")
    history = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Fix the failing date test."}]
    for i, count in enumerate(tokens):
        messages = history if continue_history else [history[0], {"role": "user", "content": f"File {i}"}]
        t.llm(
            parent=root,
            at=i * 3.0,
            dur=2.5,
            model="gpt-4o",
            messages=list(messages),
            input_tokens=count,
            output_tokens=200,
            cost=count * 2.5e-6 + 200 * 1e-5,
        )
        history = [*history, {"role": "tool", "content": f"contents of src/dates_{i}.py ..."}]
    return t


def test_input_tokens_rising_step_after_step_is_context_growth():
    tokens = [1_200, 2_900, 4_700, 6_800, 9_100, 11_600, 14_800]
    findings = growth(coding_agent(tokens).spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.detector == "context_growth"
    assert finding.severity == "warning"
    assert finding.operation == "chat.completions"
    assert finding.parent_operation == "agent coder"
    assert finding.details["input_tokens"] == tokens
    extra = sum(n - 1_200 for n in tokens[1:])
    assert finding.details["extra_input_tokens"] == extra
    expected = sum((n * 2.5e-6 + 2e-3) * (n - 1_200) / (n + 200) for n in tokens[1:])
    assert finding.saving_usd == pytest.approx(expected)
    assert finding.message.startswith(
        'Root cause: context growth in "chat.completions" (gpt-4o)\n'
        f"Input tokens rose step after step over 7 calls, from 1,200 to 14,800: {extra:,} tokens of history re-sent."
    )
    assert "def trimmed(messages):" in finding.fix.snippets[0]["after"]


def test_a_loop_whose_context_stays_flat_is_fine():
    assert growth(coding_agent([3_000, 3_100, 3_050, 3_200, 3_150, 3_300]).spans) == []


def test_a_short_loop_is_fine():
    assert growth(coding_agent([1_000, 5_000, 9_000, 14_000]).spans) == []


def test_a_history_that_is_trimmed_halfway_is_two_short_runs():
    assert growth(coding_agent([1_000, 3_000, 6_000, 9_000, 2_000, 4_000, 7_000, 9_500]).spans) == []


def test_unrelated_calls_that_happen_to_grow_are_not_a_loop():
    tokens = [1_200, 2_900, 4_700, 6_800, 9_100, 11_600, 14_800]

    assert growth(coding_agent(tokens, continue_history=False).spans) == []
