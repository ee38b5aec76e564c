from tests.evals import evaluate, llm_span, tool_span

RATE_LIMIT = (
    "openai.RateLimitError: Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o-mini', "
    "'type': 'requests', 'code': 'rate_limit_exceeded'}}"
)


def test_it_passes_a_span_that_did_not_fail():
    assert evaluate("error", llm_span("Refunds take 5-7 business days.")).label == "ok"
    assert evaluate("error", tool_span(status="unset")).passed is True


def test_it_fails_a_span_in_error_and_keeps_the_message():
    result = evaluate("error", llm_span("", status="error", error=RATE_LIMIT))
    assert (result.passed, result.value, result.label) == (False, 0.0, "error")
    assert result.details["error"] == RATE_LIMIT
    assert result.explanation.startswith("The span failed: openai.RateLimitError")


def test_a_failed_wrapper_span_is_caught_too():
    result = evaluate("error", llm_span("", kind="chain", status="error", error="KeyError: 'answer'"))
    assert result.passed is False


def test_it_does_not_apply_to_wrapper_spans_that_did_not_fail():
    assert evaluate("error", llm_span("ok", kind="chain")) is None
    assert evaluate("error", llm_span("", kind="span", status="unset")) is None


def test_a_huge_error_is_cut():
    result = evaluate("error", tool_span(status="error", error="Traceback\n" + "x" * 1_000_000))
    assert len(result.details["error"]) == 500
