from tests.evals import calling_llm_span, evaluate, llm_span, tool_call, tool_span


def test_it_passes_an_answer():
    result = evaluate("non_empty", llm_span("Annual plans can be refunded within 30 days."))
    assert (result.passed, result.value, result.label) == (True, 1.0, "non_empty")


def test_an_answer_made_only_of_tool_calls_is_not_empty():
    span = calling_llm_span(tool_call("search_kb", '{"query": "refund"}'))
    span.output_text = ""
    result = evaluate("non_empty", span)
    assert (result.passed, result.label) == (True, "tool_calls")


def test_it_fails_an_empty_whitespace_or_invisible_answer():
    for output in ("", "  \n\t ", "\u200b\ufeff", None):
        result = evaluate("non_empty", llm_span(output))
        assert (result.passed, result.value, result.label) == (False, 0.0, "empty"), repr(output)


def test_it_does_not_apply_to_other_spans_or_to_failed_calls():
    assert evaluate("non_empty", tool_span(result="")) is None
    assert evaluate("non_empty", llm_span("", status="error", error="RateLimitError: 429")) is None
