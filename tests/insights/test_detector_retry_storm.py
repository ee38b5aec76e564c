from insights.detectors import retry_storm as detector
from insights.detectors.types import TraceIndex
from tests.insights.spans import TICKET, TraceBuilder

RATE_LIMITED = "RateLimitError: Error code: 429 - Rate limit reached for gpt-4o in organization org-x on tokens per min"
TOO_LONG = (
    "BadRequestError: Error code: 400 - This model's maximum context length is 128000 tokens. "
    "However, your messages resulted in 131072 tokens. (context_length_exceeded)"
)


def storms(spans):
    return detector.detect(TraceIndex(spans))


def attempts(outcomes: list[str], error: str = RATE_LIMITED) -> TraceBuilder:
    """One request retrying a chat call: "e" a failed attempt (0.4 s, then 1 s of backoff), "o" a success."""
    t = TraceBuilder()
    root = t.request(dur=len(outcomes) * 1.4 + 3)
    at = 0.0
    for outcome in outcomes:
        failed = outcome == "e"
        t.llm(
            parent=root,
            at=at,
            dur=0.4 if failed else 2.5,
            model="gpt-4o",
            user="Summarise: " + TICKET,
            output="" if failed else "A double charge, refund asked.",
            status="error" if failed else "ok",
            error=error if failed else "",
            cost=None if failed else 0.004,
        )
        at += 1.4 if failed else 2.5
    return t


def test_calls_failing_again_and_again_are_a_retry_storm():
    findings = storms(attempts(["e", "e", "e", "e", "o"]).spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.detector == "retry_storm"
    assert finding.severity == "warning"
    assert finding.operation == "chat.completions"
    assert finding.details["failures"] == 4
    assert finding.details["transient"] is True
    assert finding.saving_ms == 4600  # first failure's start to last failure's end, backoff included
    assert finding.message.startswith(
        'Root cause: retry storm on "chat.completions"\n'
        '4 calls failed in a row under "POST /v1/answer" before a call succeeded (RateLimitError: Error code: 429'
    )
    assert finding.message.endswith("The failed attempts took 4.6s and $0.0000.")
    assert "OpenAI(max_retries=3" in finding.fix.snippets[0]["after"]


def test_a_permanent_error_retried_is_critical_and_the_fix_is_to_stop():
    findings = storms(attempts(["e", "e", "e"], error=TOO_LONG).spans)

    finding = findings[0]
    assert finding.severity == "critical"
    assert finding.details["transient"] is False
    assert finding.details["succeeded"] is False
    assert "and no attempt succeeded" in finding.message
    assert "The error is not transient: retrying the same request cannot succeed." in finding.message
    assert "except openai.BadRequestError as error:" in finding.fix.snippets[0]["after"]


def test_two_failures_then_a_success_is_ordinary_retrying():
    assert storms(attempts(["e", "e", "o"]).spans) == []


def test_failures_spread_between_successes_are_not_a_storm():
    assert storms(attempts(["e", "o", "e", "o", "e", "o"]).spans) == []


def test_failing_tool_calls_are_a_storm_too():
    t = TraceBuilder()
    root = t.request(dur=10.0)
    for i in range(5):
        t.tool(
            "lookup_order",
            parent=root,
            at=i * 1.0,
            dur=0.8,
            arguments='{"order": 48213}',
            status="error",
            error="ConnectionError: orders-db:5432 connection refused",
        )

    finding = storms(t.spans)[0]

    assert finding.operation == "tool lookup_order"
    assert "lookup_order" in finding.fix.snippets[0]["after"]
    assert "stop_after_attempt(3)" in finding.fix.snippets[0]["after"]
