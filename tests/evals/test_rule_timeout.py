from evals.evaluators.types import EvalConfig
from tests.evals import evaluate, llm_span, tool_span


def test_it_passes_a_span_within_the_limit():
    result = evaluate("timeout", llm_span("Refunds take 5-7 business days.", duration_ms=1840.0))
    assert (result.passed, result.value, result.label) == (True, 1.0, "ok")


def test_it_fails_a_span_over_the_limit():
    result = evaluate("timeout", llm_span("Refunds...", duration_ms=42_500.0), EvalConfig(timeout_ms=30_000))
    assert (result.passed, result.label) == (False, "timeout")
    assert result.details["reason"] == "duration"
    assert result.explanation == "The span took 42.5 s, over the 30 s limit."


def test_it_fails_a_span_whose_error_is_a_timeout():
    for error in (
        "httpx.ReadTimeout: The read operation timed out",
        "openai.APITimeoutError: Request timed out.",
        "grpc: DEADLINE_EXCEEDED",
        "context deadline exceeded",
        "TimeoutError",
    ):
        span = tool_span(status="error", error=error, duration_ms=None)
        result = evaluate("timeout", span)
        assert (result.passed, result.details["reason"]) == (False, "error"), error


def test_other_errors_are_not_timeouts():
    span = llm_span("", status="error", error="openai.BadRequestError: 400 context_length_exceeded", duration_ms=300)
    assert evaluate("timeout", span).passed is True


def test_a_limit_of_zero_only_checks_error_texts():
    assert evaluate("timeout", llm_span("ok", duration_ms=10**7), EvalConfig(timeout_ms=0)).passed is True


def test_it_does_not_apply_to_open_spans_or_wrapper_spans():
    assert evaluate("timeout", llm_span("", duration_ms=None)) is None
    assert evaluate("timeout", llm_span("ok", kind="chain", duration_ms=99_000.0)) is None
    assert evaluate("timeout", llm_span("ok", duration_ms=float("nan"))) is None
